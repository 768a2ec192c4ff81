//! Rendering of an environment into the two files it is deployed from:
//! `environments/NAME/dynamicconfig.yaml` (Temporal's dynamic config) and
//! `environments/NAME/parameters.json` (the CloudFormation stack parameters).
//!
//! Rendering never touches the network. Every rendered file is checked (the dynamic config
//! against Temporal's file format rules, the stack parameters against the parameters the
//! CloudFormation template declares) before anything is written.
//!
//! The templates are built into the binary ([`BUILT_IN`]), so the tool works in any repository
//! that has `environments/`; a file of the same name in the repository's `templates/`
//! overrides the built-in one, and is held to the same checks. The stack parameters are no
//! template: they are built from the descriptor ([`cfn::Parameters`]), and a repository's
//! `templates/parameters.json.j2` is refused ([`RETIRED_PARAMETERS_TEMPLATE`]).

pub mod cfn;
pub mod dynamic_config;
pub mod yaml_edit;

use std::path::{Path, PathBuf};

use env_descriptor::{Environment, Layout, Naming};
use minijinja::{AutoEscape, UndefinedBehavior};
use serde::Serialize;

/// The CloudFormation template of a role named exactly `role.name` (`role.naming = "fixed"`,
/// the guide's template since July 2026), relative to `templates/`.
pub const CFN_TEMPLATE: &str = "serverless-worker-role.yaml";
/// The CloudFormation template of a role named `NAME-STACK_NAME` (`role.naming = "per-stack"`,
/// the guide's template before), relative to `templates/`: byte for byte what stacks deployed
/// before `role.naming` existed were deployed from, so that they plan no change.
pub const CFN_TEMPLATE_PER_STACK: &str = "serverless-worker-role-per-stack.yaml";

/// The CloudFormation template of a role named as `naming` says, relative to `templates/`.
pub fn cfn_template_name(naming: Naming) -> &'static str {
    match naming {
        Naming::Fixed => CFN_TEMPLATE,
        Naming::PerStack => CFN_TEMPLATE_PER_STACK,
    }
}
const DYNAMIC_CONFIG_TEMPLATE: &str = "dynamicconfig.yaml.j2";
/// The template the stack parameters were rendered from before they were built from the
/// descriptor ([`cfn::Parameters`]); a repository's file of this name, which would no longer
/// take effect, is refused rather than ignored.
pub const RETIRED_PARAMETERS_TEMPLATE: &str = "parameters.json.j2";
/// The descriptor `init` writes, relative to `templates/`.
pub const DESCRIPTOR_TEMPLATE: &str = "environment.toml.j2";

/// The templates the tool carries (this workspace's `templates/`, built in): name and text.
pub const BUILT_IN: &[(&str, &str)] = &[
    (
        CFN_TEMPLATE,
        include_str!("../../../templates/serverless-worker-role.yaml"),
    ),
    (
        CFN_TEMPLATE_PER_STACK,
        include_str!("../../../templates/serverless-worker-role-per-stack.yaml"),
    ),
    (
        DYNAMIC_CONFIG_TEMPLATE,
        include_str!("../../../templates/dynamicconfig.yaml.j2"),
    ),
    (
        DESCRIPTOR_TEMPLATE,
        include_str!("../../../templates/environment.toml.j2"),
    ),
];

/// One template's text, and the repository's file when it overrides the built-in one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub text: String,
    /// `Some(dir/name)` when the repository's `templates/` has it.
    pub overridden_by: Option<PathBuf>,
}

impl Source {
    /// The template `name`: the checkout's `templates/name` when that file exists (read
    /// through [`Layout::read`]: inside the checkout, bounded in size), else the built-in one.
    pub fn find(layout: &Layout, name: &str) -> Result<Self, RenderError> {
        let path = layout.templates_dir().join(name);
        match layout.read_if_exists(&path)? {
            Some(text) => Ok(Source {
                text,
                overridden_by: Some(path),
            }),
            None => {
                let text = BUILT_IN
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, text)| (*text).to_owned())
                    .ok_or_else(|| RenderError::Read {
                        path: path.clone(),
                        source: std::io::ErrorKind::NotFound.into(),
                    })?;
                Ok(Source {
                    text,
                    overridden_by: None,
                })
            }
        }
    }

    /// Where the template comes from, for messages.
    pub fn origin(&self, name: &str) -> String {
        match &self.overridden_by {
            Some(path) => format!("`{}`", path.display()),
            None => format!("the built-in `templates/{name}`"),
        }
    }
}
/// Rendered file names, inside `environments/NAME/` ([`env_descriptor::RENDERED_FILES`]).
pub const DYNAMIC_CONFIG_FILE: &str = env_descriptor::RENDERED_FILES[0];
pub const PARAMETERS_FILE: &str = env_descriptor::RENDERED_FILES[1];

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read `{}`", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", describe_template_error(.0))]
    Template(#[from] minijinja::Error),
    /// A rendered dynamic config that Temporal would reject; nothing was written.
    #[error(
        "rendering {template} gave a dynamic config that Temporal would reject, so nothing was written: {problem}"
    )]
    Rejected {
        /// The template, as [`Source::origin`] names it.
        template: String,
        problem: dynamic_config::DynamicConfigError,
    },
    /// Stack parameters that the CloudFormation template would refuse; nothing was written.
    #[error(
        "the stack parameters do not fit {template}, so CloudFormation would reject them and \
         nothing was written: {message}"
    )]
    ParametersRejected {
        /// The CloudFormation template, as [`Source::origin`] names it.
        template: String,
        message: String,
    },
    /// A repository's `templates/parameters.json.j2`, which the tool no longer reads.
    #[error(
        "`{}` is no longer read: the stack parameters are built from the descriptor \
         (`temporal.server_role_arn`, `role.external_id`, `role.lambda_function_arns`, \
         `role.name`); delete the file, and give any other parameter of a template of your own \
         a `Default`",
        path.display()
    )]
    RetiredTemplate { path: PathBuf },
    /// The stack parameters could not be written as JSON (not expected: they are strings).
    #[error("cannot write the stack parameters as JSON: {0}")]
    ParametersFile(#[from] serde_json::Error),
    #[error("{template} is not a usable CloudFormation template: {problem}")]
    CfnTemplate {
        /// The template, as [`Source::origin`] names it.
        template: String,
        problem: cfn::TemplateError,
    },
    #[error("not updating `{}`: {problem}; it was left as it was", path.display())]
    ServerFile {
        path: PathBuf,
        problem: dynamic_config::DynamicConfigError,
    },
    #[error("cannot write `{}`: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file of the checkout that may not be read or written (outside it, too large, ...).
    #[error(transparent)]
    File(#[from] env_descriptor::FileError),
    #[error(transparent)]
    WriteFile(#[from] env_descriptor::WriteError),
    /// The server's file, named by `key`, may not be read or written.
    #[error("`{key}`: {err}")]
    ServerFileRefused {
        key: &'static str,
        err: env_descriptor::FileError,
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

/// The templates of one checkout, loaded once: the built-in ones, each overridden by a file of
/// the same name in the checkout's `templates/`.
#[derive(Debug)]
pub struct Templates {
    jinja: minijinja::Environment<'static>,
    /// Each template's [`Source::origin`], for messages.
    origins: Vec<(&'static str, String)>,
    overrides: Vec<PathBuf>,
    cfn: cfn::Template,
    cfn_per_stack: cfn::Template,
}

/// A file of the server's own that holds its dynamic config, which `render` updates in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerConfig {
    /// `temporal.dynamic_config_file`: the dynamic config file the server reads.
    File,
    /// `temporal.helm_values`: the values of the Helm chart that deploys the server, whose
    /// `server.dynamicConfig` the chart renders into the ConfigMap the server polls.
    HelmValues,
}

impl ServerConfig {
    /// The server's file that `env` names (relative to the checkout), and its kind.
    pub fn of(env: &Environment) -> Option<(Self, &Path)> {
        let t = &env.temporal;
        match (&t.dynamic_config_file, &t.helm_values) {
            (Some(file), _) => Some((ServerConfig::File, file.as_ref())),
            (None, Some(values)) => Some((ServerConfig::HelmValues, values.as_ref())),
            (None, None) => None,
        }
    }

    /// The descriptor key that names the file.
    pub fn key(self) -> &'static str {
        match self {
            ServerConfig::File => "temporal.dynamic_config_file",
            ServerConfig::HelmValues => "temporal.helm_values",
        }
    }

    /// Where in the file the tool's keys go, for messages: "`workercontroller` block of".
    pub fn place(self) -> &'static str {
        match self {
            ServerConfig::File => "the workercontroller block of",
            ServerConfig::HelmValues => "the workercontroller keys under server.dynamicConfig of",
        }
    }

    /// The dynamic config the server reads, from the file's text.
    pub fn dynamic_config(self, text: &str) -> Result<String, dynamic_config::DynamicConfigError> {
        match self {
            ServerConfig::File => Ok(text.to_owned()),
            ServerConfig::HelmValues => dynamic_config::from_helm_values(text),
        }
    }

    fn merge(
        self,
        existing: &str,
        rendered: &str,
        env_name: &str,
    ) -> Result<String, dynamic_config::DynamicConfigError> {
        match self {
            ServerConfig::File => {
                dynamic_config::merge_into_server_file(existing, rendered, env_name)
            }
            ServerConfig::HelmValues => {
                dynamic_config::merge_into_helm_values(existing, rendered, env_name)
            }
        }
    }
}

/// A file whose contents differ from what rendering gives: `old` is `None` when it is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: PathBuf,
    pub old: Option<String>,
    pub new: String,
}

/// The rendered files of one environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub dynamic_config: String,
    /// The stack parameters, checked against the template of the environment's role naming.
    pub parameters: cfn::Parameters,
    /// [`Self::parameters`] as `parameters.json` holds them ([`cfn::Parameters::to_file`]).
    pub parameters_json: String,
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

/// The role's keys the templates see; its stack parameters are no template's
/// ([`cfn::Parameters`]).
#[derive(Debug, Clone, Serialize)]
pub struct RoleInputs<'a> {
    /// `None` for a StackSet environment (`[stack_set]`), whose instances' stacks
    /// CloudFormation names.
    pub stack_name: Option<&'a str>,
    /// `fixed` or `per-stack` ([`Naming::as_str`]).
    pub naming: &'a str,
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
                stack_name: env.role.stack_name.as_deref(),
                naming: env.role_naming().as_str(),
            },
        }
    }
}

impl Templates {
    /// Loads the templates: the built-in ones, each overridden by a file of the same name in
    /// the checkout's `templates/` (which need not exist). The CloudFormation template must
    /// declare the parameters the tool passes and the output it records.
    pub fn load(layout: &Layout) -> Result<Self, RenderError> {
        let mut origins = Vec::new();
        let mut overrides = Vec::new();
        let mut read = |name: &'static str| {
            let source = Source::find(layout, name)?;
            origins.push((name, source.origin(name)));
            overrides.extend(source.overridden_by);
            Ok::<_, RenderError>(source.text)
        };
        let retired = layout.templates_dir().join(RETIRED_PARAMETERS_TEMPLATE);
        if retired.symlink_metadata().is_ok() {
            return Err(RenderError::RetiredTemplate { path: retired });
        }
        let mut jinja = minijinja::Environment::new();
        jinja.set_undefined_behavior(UndefinedBehavior::Strict);
        jinja.set_keep_trailing_newline(true);
        jinja.set_debug(true);
        // Every value is emitted as JSON: valid YAML and JSON, and unable to leave its place.
        jinja.set_auto_escape_callback(|_| AutoEscape::Json);
        jinja.add_template_owned(
            DYNAMIC_CONFIG_TEMPLATE.to_owned(),
            read(DYNAMIC_CONFIG_TEMPLATE)?,
        )?;
        let texts = [read(CFN_TEMPLATE)?, read(CFN_TEMPLATE_PER_STACK)?];
        let cfn_template = |name: &'static str, text: String| {
            cfn::Template::parse(text).map_err(|problem| RenderError::CfnTemplate {
                template: origin_in(&origins, name),
                problem,
            })
        };
        let [fixed, per_stack] = texts;
        let cfn = cfn_template(CFN_TEMPLATE, fixed)?;
        let cfn_per_stack = cfn_template(CFN_TEMPLATE_PER_STACK, per_stack)?;
        Ok(Templates {
            jinja,
            origins,
            overrides,
            cfn,
            cfn_per_stack,
        })
    }

    /// The repository's files that override built-in templates.
    pub fn overrides(&self) -> &[PathBuf] {
        &self.overrides
    }

    /// Where the CloudFormation template of `naming` comes from, for messages: the
    /// repository's file or the built-in one.
    pub fn cfn_origin(&self, naming: Naming) -> String {
        self.origin(cfn_template_name(naming))
    }

    fn origin(&self, name: &str) -> String {
        origin_in(&self.origins, name)
    }

    /// The CloudFormation template of a role named as `naming` says, as deployed.
    pub fn cfn_template(&self, naming: Naming) -> &cfn::Template {
        match naming {
            Naming::Fixed => &self.cfn,
            Naming::PerStack => &self.cfn_per_stack,
        }
    }

    /// Renders both files for `env` and checks them; nothing is written.
    pub fn render(&self, env: &Environment) -> Result<Rendered, RenderError> {
        self.render_inputs(
            &Inputs::from(env),
            cfn::Parameters::of(env),
            env.role_naming(),
        )
    }

    /// Renders the dynamic config from `ctx` and the parameters file from `parameters` (for
    /// the template of `naming`), and checks both; nothing is written.
    pub fn render_inputs(
        &self,
        ctx: &Inputs<'_>,
        parameters: cfn::Parameters,
        naming: Naming,
    ) -> Result<Rendered, RenderError> {
        let dynamic_config = self
            .jinja
            .get_template(DYNAMIC_CONFIG_TEMPLATE)?
            .render(ctx)?;
        dynamic_config::check(&dynamic_config).map_err(|problem| RenderError::Rejected {
            template: self.origin(DYNAMIC_CONFIG_TEMPLATE),
            problem,
        })?;
        let problems = self.cfn_template(naming).problems(&parameters);
        if !problems.is_empty() {
            return Err(RenderError::ParametersRejected {
                template: self.cfn_origin(naming),
                message: problems.join("; "),
            });
        }
        Ok(Rendered {
            dynamic_config,
            parameters_json: parameters.to_file()?,
            parameters,
        })
    }
}

/// The origin of template `name` among those [`Templates::load`] read.
fn origin_in(origins: &[(&str, String)], name: &str) -> String {
    origins
        .iter()
        .find(|(n, _)| *n == name)
        .map_or_else(|| format!("`templates/{name}`"), |(_, o)| o.clone())
}

impl Rendered {
    fn files<'a>(&'a self, dir: &Path) -> [(PathBuf, &'a str); 2] {
        [
            (dir.join(DYNAMIC_CONFIG_FILE), self.dynamic_config.as_str()),
            (dir.join(PARAMETERS_FILE), self.parameters_json.as_str()),
        ]
    }

    /// The files under `dir` (of the checkout `layout`) whose contents differ from the rendered
    /// ones.
    pub fn stale(&self, layout: &Layout, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
        Ok(self
            .changes(layout, dir)?
            .into_iter()
            .map(|c| c.path)
            .collect())
    }

    /// The files under `dir` (of the checkout `layout`) whose contents differ from the rendered
    /// ones, with both texts; each read through [`Layout::read`], so a rendered file that links
    /// out of the checkout is refused, never shown.
    pub fn changes(&self, layout: &Layout, dir: &Path) -> Result<Vec<Change>, RenderError> {
        let mut changes = Vec::new();
        for (path, contents) in self.files(dir) {
            let old = layout.read_if_exists(&path)?;
            if old.as_deref() != Some(contents) {
                changes.push(Change {
                    path,
                    old,
                    new: contents.to_owned(),
                });
            }
        }
        Ok(changes)
    }

    /// Puts the workercontroller keys into the dynamic config file the server reads, as a
    /// managed block, keeping every other byte (see [`dynamic_config::merge_into_server_file`]).
    /// Returns whether the file changed. A missing file is an error: Temporal does not start
    /// without it, so it is not ours to create.
    pub fn update_server_file(
        &self,
        layout: &Layout,
        path: &Path,
        env_name: &str,
    ) -> Result<bool, RenderError> {
        self.update_server_config(ServerConfig::File, layout, path, env_name)
    }

    /// [`Self::update_server_file`] for either kind of the server's file.
    pub fn update_server_config(
        &self,
        kind: ServerConfig,
        layout: &Layout,
        path: &Path,
        env_name: &str,
    ) -> Result<bool, RenderError> {
        let Some(change) = self.server_config_change(kind, layout, path, env_name)? else {
            return Ok(false);
        };
        layout
            .write(path, change.new.as_bytes())
            .map_err(|e| match e {
                env_descriptor::WriteError::File(err) => RenderError::ServerFileRefused {
                    key: kind.key(),
                    err,
                },
                env_descriptor::WriteError::Io { path, err } => {
                    RenderError::Write { path, source: err }
                }
            })?;
        Ok(true)
    }

    /// The server's file (`path`, as the descriptor names it, relative to the checkout
    /// `layout`) with the managed keys in place, or `None` when it is already so (for
    /// `render --check` and `plan`); nothing is written.
    pub fn server_config_change(
        &self,
        kind: ServerConfig,
        layout: &Layout,
        path: &Path,
        env_name: &str,
    ) -> Result<Option<Change>, RenderError> {
        let existing = layout
            .read(path)
            .map_err(|err| RenderError::ServerFileRefused {
                key: kind.key(),
                err,
            })?;
        let merged = kind
            .merge(&existing, &self.dynamic_config, env_name)
            .map_err(|problem| RenderError::ServerFile {
                path: path.to_owned(),
                problem,
            })?;
        Ok((merged != existing).then(|| Change {
            path: layout.root().join(path),
            old: Some(existing),
            new: merged,
        }))
    }

    /// Writes the files that changed into `dir` (of the checkout `layout`), each atomically;
    /// returns them.
    pub fn write(&self, layout: &Layout, dir: &Path) -> Result<Vec<PathBuf>, RenderError> {
        let stale = self.stale(layout, dir)?;
        for (path, contents) in self.files(dir) {
            if stale.contains(&path) {
                layout.write(&path, contents.as_bytes())?;
            }
        }
        Ok(stale)
    }
}
