//! Rendering of an environment into the two files it is deployed from:
//! `environments/NAME/dynamicconfig.yaml` (Temporal's dynamic config) and
//! `environments/NAME/parameters.json` (the CloudFormation stack parameters).
//!
//! Rendering never touches the network. Every rendered file is parsed back and checked (against
//! Temporal's file format rules, and against the parameters the CloudFormation template
//! declares) before anything is written.

pub mod cfn;
pub mod dynamic_config;
pub mod yaml_edit;

use std::path::{Path, PathBuf};

use env_descriptor::Environment;
use minijinja::{AutoEscape, UndefinedBehavior};
use serde::Serialize;

/// The CloudFormation template, relative to `templates/`.
pub const CFN_TEMPLATE: &str = "serverless-worker-role.yaml";
const DYNAMIC_CONFIG_TEMPLATE: &str = "dynamicconfig.yaml.j2";
const PARAMETERS_TEMPLATE: &str = "parameters.json.j2";
/// Rendered file names, inside `environments/NAME/`.
pub const DYNAMIC_CONFIG_FILE: &str = "dynamicconfig.yaml";
pub const PARAMETERS_FILE: &str = "parameters.json";

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read template `{}`: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", describe_template_error(.0))]
    Template(#[from] minijinja::Error),
    /// A rendered file that its consumer would reject; nothing was written.
    #[error("rendering `{}` gave {what} that {consumer} would reject, so nothing was written: {message}", template.display())]
    Rejected {
        template: PathBuf,
        what: &'static str,
        consumer: &'static str,
        message: String,
    },
    #[error("`{}` is not a usable CloudFormation template: {message}", path.display())]
    CfnTemplate { path: PathBuf, message: String },
    #[error("not updating `{}`: {message}; it was left as it was", path.display())]
    ServerFile { path: PathBuf, message: String },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn describe_template_error(e: &minijinja::Error) -> String {
    let place = match (e.name(), e.line()) {
        (Some(name), Some(line)) => format!("templates/{name}:{line}: "),
        (Some(name), None) => format!("templates/{name}: "),
        _ => String::new(),
    };
    let detail = e.detail().map(|d| format!(": {d}")).unwrap_or_default();
    format!("{place}{}{detail}", e.kind())
}

/// The templates of one checkout, loaded once.
#[derive(Debug)]
pub struct Templates {
    jinja: minijinja::Environment<'static>,
    dir: PathBuf,
    cfn: cfn::Template,
}

/// The rendered files of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub dynamic_config: String,
    pub parameters_json: String,
    /// `parameters.json` parsed back: (ParameterKey, ParameterValue) in file order.
    pub parameters: Vec<(String, String)>,
}

/// A file that rendering would change: its contents now (`None`: it does not exist) and then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    pub path: PathBuf,
    pub old: Option<String>,
    pub new: String,
}

fn read_server_file(path: &Path) -> Result<String, RenderError> {
    std::fs::read_to_string(path).map_err(|source| RenderError::Read {
        path: path.to_owned(),
        source,
    })
}

/// What the templates see; the structure mirrors the descriptor's tables. The values are plain
/// text: the templates must render any text safely, not only what the descriptor's rules accept,
/// so that tests can feed them hostile values an [`Environment`] cannot hold.
#[derive(Debug, Clone, Serialize)]
pub struct Inputs<'a> {
    pub temporal: TemporalInputs<'a>,
    pub role: RoleInputs<'a>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TemporalInputs<'a> {
    pub server_role_arn: &'a str,
    /// Empty when the Worker Controller is enabled globally.
    pub namespaces: Vec<&'a str>,
    pub compute_providers: Vec<&'a str>,
    pub scaling_algorithms: Vec<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleInputs<'a> {
    pub stack_name: &'a str,
    pub name: Option<&'a str>,
    pub external_id: &'a str,
    pub lambda_function_arns: Vec<&'a str>,
}

impl<'a> From<&'a Environment> for Inputs<'a> {
    fn from(env: &'a Environment) -> Self {
        fn texts<T: AsRef<str>>(values: &[T]) -> Vec<&str> {
            values.iter().map(AsRef::as_ref).collect()
        }
        Inputs {
            temporal: TemporalInputs {
                server_role_arn: &env.temporal.server_role_arn,
                namespaces: texts(env.temporal.namespaces.as_deref().unwrap_or_default()),
                compute_providers: texts(&env.temporal.compute_providers),
                scaling_algorithms: texts(&env.temporal.scaling_algorithms),
            },
            role: RoleInputs {
                stack_name: &env.role.stack_name,
                name: env.role.name.as_deref(),
                external_id: &env.role.external_id,
                lambda_function_arns: texts(&env.role.lambda_function_arns),
            },
        }
    }
}

impl Templates {
    /// Loads the templates from `dir` (the checkout's `templates/`).
    pub fn load(dir: &Path) -> Result<Self, RenderError> {
        let read = |name: &str| {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| RenderError::Read { path, source })
        };
        let mut jinja = minijinja::Environment::new();
        jinja.set_undefined_behavior(UndefinedBehavior::Strict);
        jinja.set_keep_trailing_newline(true);
        jinja.set_debug(true);
        // Every value is emitted as JSON: valid YAML and JSON, and unable to leave its place.
        jinja.set_auto_escape_callback(|_| AutoEscape::Json);
        for name in [DYNAMIC_CONFIG_TEMPLATE, PARAMETERS_TEMPLATE] {
            jinja.add_template_owned(name.to_owned(), read(name)?)?;
        }
        let cfn_path = dir.join(CFN_TEMPLATE);
        let cfn = cfn::Template::parse(read(CFN_TEMPLATE)?).map_err(|message| {
            RenderError::CfnTemplate {
                path: cfn_path,
                message,
            }
        })?;
        Ok(Templates {
            jinja,
            dir: dir.to_owned(),
            cfn,
        })
    }

    /// The CloudFormation template, as deployed.
    pub fn cfn_template(&self) -> &cfn::Template {
        &self.cfn
    }

    /// Renders both files for `env` and checks them; nothing is written.
    pub fn render(&self, env: &Environment) -> Result<Rendered, RenderError> {
        self.render_inputs(&Inputs::from(env))
    }

    /// Renders both files from `ctx` and checks them; nothing is written.
    pub fn render_inputs(&self, ctx: &Inputs<'_>) -> Result<Rendered, RenderError> {
        let dynamic_config = self
            .jinja
            .get_template(DYNAMIC_CONFIG_TEMPLATE)?
            .render(ctx)?;
        dynamic_config::check(&dynamic_config).map_err(|message| RenderError::Rejected {
            template: self.dir.join(DYNAMIC_CONFIG_TEMPLATE),
            what: "a dynamic config",
            consumer: "Temporal",
            message,
        })?;
        let parameters_json = self.jinja.get_template(PARAMETERS_TEMPLATE)?.render(ctx)?;
        let parameters = self
            .cfn
            .check_parameters(&parameters_json)
            .map_err(|message| RenderError::Rejected {
                template: self.dir.join(PARAMETERS_TEMPLATE),
                what: "stack parameters",
                consumer: "CloudFormation",
                message,
            })?;
        Ok(Rendered {
            dynamic_config,
            parameters_json,
            parameters,
        })
    }
}

impl Rendered {
    fn files<'a>(&'a self, dir: &Path) -> [(PathBuf, &'a str); 2] {
        [
            (dir.join(DYNAMIC_CONFIG_FILE), self.dynamic_config.as_str()),
            (dir.join(PARAMETERS_FILE), self.parameters_json.as_str()),
        ]
    }

    /// The files under `dir` whose contents differ from the rendered ones.
    pub fn stale(&self, dir: &Path) -> Vec<PathBuf> {
        self.changes(dir).into_iter().map(|c| c.path).collect()
    }

    /// The files under `dir` whose contents differ from the rendered ones, with both contents.
    pub fn changes(&self, dir: &Path) -> Vec<FileChange> {
        self.files(dir)
            .into_iter()
            .filter_map(|(path, contents)| {
                let old = std::fs::read_to_string(&path).ok();
                (old.as_deref() != Some(contents)).then(|| FileChange {
                    path,
                    old,
                    new: contents.to_owned(),
                })
            })
            .collect()
    }

    /// The change [`Self::update_server_file`] would make, or `None` when there is none.
    pub fn server_file_change(
        &self,
        path: &Path,
        env_name: &str,
    ) -> Result<Option<FileChange>, RenderError> {
        let existing = read_server_file(path)?;
        Ok(self
            .merged_server_file(&existing, path, env_name)?
            .map(|new| FileChange {
                path: path.to_owned(),
                old: Some(existing),
                new,
            }))
    }

    /// Puts the workercontroller keys into the dynamic config file the server reads, as a
    /// managed block, keeping every other byte (see [`dynamic_config::merge_into_server_file`]).
    /// Returns whether the file changed. A missing file is an error: Temporal does not start
    /// without it, so it is not ours to create.
    pub fn update_server_file(&self, path: &Path, env_name: &str) -> Result<bool, RenderError> {
        let existing = read_server_file(path)?;
        let Some(merged) = self.merged_server_file(&existing, path, env_name)? else {
            return Ok(false);
        };
        env_descriptor::write_atomic(path, merged.as_bytes()).map_err(|source| {
            RenderError::Write {
                path: path.to_owned(),
                source,
            }
        })?;
        Ok(true)
    }

    /// The server file (`existing`, read from `path`) with the managed block in place, or
    /// `None` when it is already so.
    fn merged_server_file(
        &self,
        existing: &str,
        path: &Path,
        env_name: &str,
    ) -> Result<Option<String>, RenderError> {
        let merged =
            dynamic_config::merge_into_server_file(existing, &self.dynamic_config, env_name)
                .map_err(|message| RenderError::ServerFile {
                    path: path.to_owned(),
                    message,
                })?;
        Ok((merged != existing).then_some(merged))
    }

    /// Writes the files that changed into `dir`, each atomically; returns them.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
        let stale = self.stale(dir);
        for (path, contents) in self.files(dir) {
            if stale.contains(&path) {
                env_descriptor::write_atomic(&path, contents.as_bytes()).map_err(|source| {
                    RenderError::Write {
                        path: path.clone(),
                        source,
                    }
                })?;
            }
        }
        Ok(stale)
    }
}
