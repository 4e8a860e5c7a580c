"""Building blocks the local demo workloads seed the account with: a handler's zip and a Lambda role."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

# Lets the Lambda service assume the role: all the demo functions need (moto runs no workload code).
_LAMBDA_TRUST_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "sts:AssumeRole",
            "Principal": {"Service": "lambda.amazonaws.com"},
        }
    ],
}


def handler_zip(body: str) -> bytes:
    """A deployment package holding ``body`` as ``app.py`` (handler ``app.handler``)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", body)
    return buffer.getvalue()


def lambda_role(iam: Any, function_name: str) -> str:
    """Create ``<function_name>-role``, assumable by Lambda, and return its ARN."""
    return str(
        iam.create_role(
            RoleName=f"{function_name}-role", AssumeRolePolicyDocument=json.dumps(_LAMBDA_TRUST_POLICY)
        )["Role"]["Arn"]
    )
