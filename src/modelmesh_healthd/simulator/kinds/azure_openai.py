"""Simulated Azure OpenAI: `/openai/models?api-version=...`, `api-key`, DeploymentNotFound, and
chat completions on a deployment (`/openai/deployments/{d}/chat/completions?api-version=`)."""

from __future__ import annotations

from collections.abc import Mapping

from modelmesh_healthd.simulator.behaviours import SimProvider
from modelmesh_healthd.simulator.kinds._base import OpenAIStyle, json_body
from modelmesh_healthd.simulator.kinds._chat import openai_chat
from modelmesh_healthd.simulator.shapes import Answer, json_answer, openai_model

__all__ = ["SIM"]


class AzureOpenAI(OpenAIStyle):
    """Azure OpenAI's documented answers."""

    name = "azure-openai"
    default_key = "azure-sim-key-0000"
    models = ("gpt-4o", "gpt-4o-mini")

    def error(self, status: int, message: str) -> Answer:
        """`{"error": {"code": "status", "message"}}`."""
        return json_answer(status, {"error": {"code": str(status), "message": message}})

    def not_found(self, p: SimProvider, path: str) -> Answer:
        """404 in Azure's shape."""
        return self.error(404, "Not Found")

    def bad_key(self, p: SimProvider) -> Answer:
        """401 access denied."""
        return self.error(
            401,
            "Access denied due to invalid subscription key or wrong API endpoint. Make sure to "
            "provide a valid key for an active subscription and use a correct regional API "
            "endpoint for your resource.",
        )

    def model_not_found(self, p: SimProvider, name: str) -> Answer:
        """404 `DeploymentNotFound`."""
        return json_answer(
            404,
            {
                "error": {
                    "code": "DeploymentNotFound",
                    "message": "The API deployment for this resource does not exist.",
                }
            },
        )

    def healthy(self, p: SimProvider, path: str, query: Mapping[str, str]) -> Answer | None:
        """The models list and one model, both requiring `api-version`."""
        if not path.startswith("openai/"):
            return None
        if "api-version" not in query:
            return json_answer(404, {"error": {"code": "404", "message": "Resource not found"}})
        if path == "openai/models":
            return json_answer(200, {"object": "list", "data": [openai_model(m) for m in p.listed]})
        if path.startswith("openai/models/"):
            name = path.removeprefix("openai/models/")
            return (
                json_answer(200, openai_model(name))
                if name in p.listed
                else self.model_not_found(p, name)
            )
        return None

    def post(
        self, p: SimProvider, path: str, query: Mapping[str, str], body: bytes
    ) -> Answer | None:
        """Chat completions on a deployment (the deployments are the models listed)."""
        parts = path.split("/")
        if (
            len(parts) != 5
            or parts[:2] != ["openai", "deployments"]
            or parts[3:]
            != [
                "chat",
                "completions",
            ]
        ):
            return None
        if "api-version" not in query:
            return json_answer(404, {"error": {"code": "404", "message": "Resource not found"}})
        # Azure routes by the deployment in the URL; a `model` in the body is not needed.
        return openai_chat(self, p, {**json_body(body), "model": parts[2]}, azure=True)


SIM = AzureOpenAI()
