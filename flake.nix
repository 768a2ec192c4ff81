{
  description = "Temporal Serverless Workers setup: cargo xtask automation";

  # The only input. The committed `flake.lock` pins its revision (docs/nix.md, "Pinning": where it came
  # from); `nix flake update` moves it within the branch. nixos-26.05 is the last nixpkgs release
  # with x86_64-darwin (nixos-unstable has dropped it: moving past 26.05 means removing it from
  # `systems`), and its rustc is recent enough for the workspace's rust-version (1.89 or later).
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

  outputs =
    { self, nixpkgs }:
    let
      inherit (nixpkgs) lib;

      systems = [
        "x86_64-linux"
        "aarch64-linux"
        "x86_64-darwin"
        "aarch64-darwin"
      ];
      forAllSystems = f: lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      manifest = (builtins.fromTOML (builtins.readFile ./tsw/Cargo.toml)).package;
      # The package's version, or the workspace's when it inherits it (`version.workspace = true`):
      # the release version is set once, in [workspace.package] of Cargo.toml.
      version =
        if builtins.isString manifest.version then
          manifest.version
        else
          (builtins.fromTOML (builtins.readFile ./Cargo.toml)).workspace.package.version;

      # What cargo needs to build and unit-test the workspace: the manifests and lock file, the
      # sources, and `tests/` (tsw/Cargo.toml declares `[[test]] path =
      # "../tests/integration/main.rs"`, so cargo needs it just to read the manifest).
      # `environments/` is left out on purpose: the binary never reads it from here (it finds the
      # checkout from the current directory at run time), and `deploy` rewrites descriptors, so
      # including it would rebuild the package after every deploy.
      src = lib.fileset.toSource {
        root = ./.;
        fileset = lib.fileset.unions [
          ./Cargo.toml
          ./Cargo.lock
          ./.cargo
          ./tsw
          ./crates
          ./templates
          ./tests
        ];
      };

      xtaskFor =
        pkgs:
        pkgs.rustPlatform.buildRustPackage {
          pname = manifest.name;
          inherit version;
          inherit src;

          # The same Cargo.lock as `cargo xtask`; it has no git dependencies, so no outputHashes.
          cargoLock.lockFile = ./Cargo.lock;

          # Build only the binary package that ships; its binary `tsw` is installed into $out/bin.
          cargoBuildFlags = [
            "--package"
            "tsw"
          ];

          # `--version` names the commit: a Nix build has no .git, so the flake passes its own
          # revision (empty for a dirty tree or a path without git).
          env.XTASK_GIT_REVISION = self.shortRev or self.dirtyShortRev or "";

          # Unit tests only (every crate's lib and bins). The integration tests in
          # tests/integration/ install a pinned moto server, the Temporal CLI and cfn-lint
          # from PyPI into target/ and run them on loopback; the Nix build sandbox has no
          # network, so they run with `cargo test --workspace` (.ci/run) instead.
          cargoTestFlags = [
            "--workspace"
            "--lib"
            "--bins"
          ];

          # The AWS SDK is built without aws-lc (rustls with ring): no cmake; ring only needs the
          # C compiler stdenv already has. On Darwin the default SDK in stdenv covers the
          # Security framework rustls' native roots link against.

          meta = {
            inherit (manifest) description;
            license = lib.licenses.asl20;
            mainProgram = "tsw";
          };
        };
    in
    {
      # `nix build .#tsw` (or `.`): the program, under its own name.
      packages = forAllSystems (
        system: pkgs: rec {
          tsw = xtaskFor pkgs;
          default = tsw;
        }
      );

      # `nix run . -- deploy staging`: the binary finds the repository by its environments/ from
      # the current directory (or --root DIR / XTASK_ROOT), never from its build, so it behaves
      # exactly like `cargo xtask deploy staging` in the checkout. The templates are built into
      # it (a repository's templates/ overrides them), so `nix run
      # github:temporal-serverless-workers/tsw -- deploy staging` works in a team's own repository
      # that has only environments/. The program is the package's mainProgram.
      apps = forAllSystems (
        system: pkgs: rec {
          tsw = {
            type = "app";
            program = lib.getExe self.packages.${system}.tsw;
            meta.description = manifest.description;
          };
          default = tsw;
        }
      );

      devShells = forAllSystems (
        system: pkgs: {
          default = pkgs.mkShell {
            packages = [
              # Rust (the same toolchain the package is built with); stdenv brings the C
              # compiler ring needs.
              pkgs.cargo
              pkgs.rustc
              pkgs.clippy
              pkgs.rustfmt
              pkgs.rust-analyzer
              # Temporal and AWS.
              pkgs.temporal-cli
              pkgs.awscli2
              # moto, boto3 and cfn-lint for interactive use, in one Python environment (a
              # python3Packages.* in `packages` would set PYTHONPATH, which leaks into every
              # Python the tools start, including the tests' pinned virtualenv).
              (pkgs.python3.withPackages (ps: [
                ps.moto
                ps.boto3
                ps.cfn-lint
              ]))
              pkgs.git
            ];

            # The sandbox and the tests create their virtualenv (pinned moto and Temporal CLI
            # from crates/aws-sandbox/python/requirements.txt) with $PYTHON: the bare
            # interpreter (with venv and pip), exactly as on a machine without Nix.
            PYTHON = "${pkgs.python3}/bin/python3";

            # Nothing may ask the EC2 instance metadata service for credentials.
            AWS_EC2_METADATA_DISABLED = "true";
          };
        }
      );

      checks = forAllSystems (
        system: pkgs:
        let
          xtask = self.packages.${system}.default;
        in
        {
          # Builds the binary and runs the unit tests (cargoTestFlags above).
          package = xtask;

          # The invocation-role template passes cfn-lint (the tests run the version pinned in
          # requirements.txt; this is nixpkgs' version).
          cfn-lint = pkgs.runCommand "cfn-lint-serverless-worker-role" {
            nativeBuildInputs = [ pkgs.python3Packages.cfn-lint ];
          } ''
            export HOME="$TMPDIR"
            cfn-lint ${./templates/serverless-worker-role.yaml} ${./templates/serverless-worker-role-per-stack.yaml}
            touch "$out"
          '';

          # rustfmt, as `cargo fmt --all --check` in a checkout (needs no dependencies).
          fmt = pkgs.runCommand "cargo-fmt-check" {
            nativeBuildInputs = [
              pkgs.cargo
              pkgs.rustfmt
            ];
          } ''
            export HOME="$TMPDIR"
            cp -r --no-preserve=mode ${src} checkout
            cd checkout
            cargo fmt --all --check
            touch "$out"
          '';

          # The committed descriptors are valid and their rendered files are up to date
          # (`tsw validate` and `tsw render --check` never call AWS). On the whole checkout:
          # a descriptor may name other files in it (temporal.dynamic_config_file).
          descriptors = pkgs.runCommand "xtask-descriptors-check" {
            nativeBuildInputs = [ xtask ];
          } ''
            export HOME="$TMPDIR" AWS_EC2_METADATA_DISABLED=true
            cp -r --no-preserve=mode ${self} checkout
            cd checkout
            tsw validate
            tsw render --check
            touch "$out"
          '';
        }
      );
    };
}
