"""The sandbox's sample Temporal Serverless Worker, for AWS Lambda (handler `handler.lambda_handler`,
runtime python3.x, `temporalio` installed next to it).

It is `temporalio.contrib.aws.lambda_worker` as its documentation shows it. What a deployment
differs in comes from the function's environment, so one package serves every version:
  TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE  the frontend (read by lambda_worker through envconfig)
  TEMPORAL_TASK_QUEUE                   the task queue (read by lambda_worker)
  TEMPORAL_DEPLOYMENT_NAME, TEMPORAL_WORKER_BUILD_ID
                                        the Worker Deployment Version it polls as: it must be the
                                        registered one, or the task queue is never bound (the
                                        names Temporal's Worker Controller gives these values)
The function's timeout must leave room for the 7 s lambda_worker reserves for shutdown.
"""

from __future__ import annotations

import os

from temporalio.common import WorkerDeploymentVersion
from temporalio.contrib.aws.lambda_worker import LambdaWorkerConfig, run_worker

from workflows import Greet, compose_greeting


def configure(config: LambdaWorkerConfig) -> None:
    config.worker_config["workflows"] = [Greet]
    config.worker_config["activities"] = [compose_greeting]


lambda_handler = run_worker(
    WorkerDeploymentVersion(
        deployment_name=os.environ["TEMPORAL_DEPLOYMENT_NAME"],
        build_id=os.environ["TEMPORAL_WORKER_BUILD_ID"],
    ),
    configure,
)
