"""Creates Lambda functions in the sandbox's AWS emulator, so that a Temporal server's
GetFunction finds them as it would find the real ones.

Usage: python seed_lambda.py ENDPOINT_URL FUNCTION_ARN...

Idempotent: existing functions are left alone. The caller (aws-sandbox's
`seed_lambda_functions`) has checked that the endpoint is a loopback address. The handler is a stub (the docker-free Lambda
backend of moto does not run it). A qualified ARN gets published versions up to its number, or
an alias of that name.
"""

import io
import json
import sys
import zipfile

import boto3

EXEC_ROLE = "temporal-sandbox-lambda-exec"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def stub_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("lambda_function.py", "def handler(event, context):\n    return {'sandbox': True}\n")
    return buf.getvalue()


def main() -> int:
    endpoint, arns = sys.argv[1], sys.argv[2:]
    iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1")
    try:
        role_arn = iam.get_role(RoleName=EXEC_ROLE)["Role"]["Arn"]
    except iam.exceptions.NoSuchEntityException:
        role_arn = iam.create_role(RoleName=EXEC_ROLE, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    for arn in arns:
        parts = arn.split(":")
        region, name = parts[3], parts[6]
        qualifier = parts[7] if len(parts) > 7 else None
        lam = boto3.client("lambda", endpoint_url=endpoint, region_name=region)
        try:
            lam.get_function(FunctionName=name)
            created = False
        except lam.exceptions.ResourceNotFoundException:
            lam.create_function(FunctionName=name, Runtime="python3.13", Role=role_arn, Handler="lambda_function.handler", Code={"ZipFile": stub_zip()})
            created = True
        if qualifier and qualifier not in ("$LATEST", "*"):
            versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName=name)["Versions"] if v["Version"] != "$LATEST"]
            if qualifier.isdigit():
                while len(versions) < int(qualifier):
                    versions.append(lam.publish_version(FunctionName=name)["Version"])
            else:
                try:
                    lam.get_alias(FunctionName=name, Name=qualifier)
                except lam.exceptions.ResourceNotFoundException:
                    version = versions[-1] if versions else lam.publish_version(FunctionName=name)["Version"]
                    lam.create_alias(FunctionName=name, Name=qualifier, FunctionVersion=version)
        print(f"{'created' if created else 'exists '} {arn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
