{
  description = "Temporal Serverless Workers setup: cargo xtask automation";

  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";

  outputs = { self, nixpkgs }: { };
}
