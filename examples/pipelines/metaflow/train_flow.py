"""A tiny Metaflow flow: prepare -> train (on a GPU of a training pool when it runs on Kubernetes) -> end.

Locally (`python train_flow.py run`) every step runs here; with the platform's config
(`pulumi stack output metaflowConfig > ~/.metaflowconfig/config.json`) its artifacts go to the S3 datastore and
`python train_flow.py argo-workflows create` deploys it to Argo Workflows, each step a pod on the cluster.
"""

import os

from metaflow import FlowSpec, resources, step


class TrainFlow(FlowSpec):
    @step
    def start(self):
        self.samples = [float(i) for i in range(10)]
        self.next(self.train)

    @resources(gpu=1, cpu=2, memory=8192)
    @step
    def train(self):
        # A stand-in model: the mean. A real step trains here and logs to MLflow (MLFLOW_TRACKING_URI is set on
        # the cluster's step pods from the platform's env Secret).
        self.model = {"mean": sum(self.samples) / len(self.samples)}
        self.tracking_uri = os.environ.get("MLFLOW_TRACKING_URI", "")
        self.next(self.end)

    @step
    def end(self):
        print("model", self.model)


if __name__ == "__main__":
    TrainFlow()
