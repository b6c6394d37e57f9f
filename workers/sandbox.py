"""The workflow sandbox, its code compiled once.

The SDK's sandboxed instance runs each step inside the sandbox by `exec` of a short source
text: once per activation, and once per payload of the activation and of its completion to
find the payload's serialization context. `exec` of a text compiles it every time (about
30 µs here), and a visa lifecycle visits hundreds of payloads: measured, the compiling was a
tenth of the worker's CPU (docs/design.md, "Performance"). The texts are a handful of
constants, so each is compiled once per process and the same code object is run: the
sandbox, its importer and its restrictions are exactly the SDK's.
"""

from __future__ import annotations

import functools
from types import CodeType
from typing import Any

from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

# The SDK's texts: a few fixed ones, and one per workflow class for its import.
COMPILED_TEXTS_KEPT = 64


@functools.lru_cache(maxsize=COMPILED_TEXTS_KEPT)
def compiled(source: str) -> CodeType:
    """The code object `exec` would have compiled from `source`, under the same name."""
    return compile(source, "<string>", "exec")


class _CompiledOnceInstance(_Instance):
    """The SDK's sandboxed workflow instance; only the compiling of its texts is kept."""

    def _run_code(self, code: str, **extra_globals: Any) -> None:
        # `exec` takes a code object as it takes a text; the SDK's only use of `code`.
        super()._run_code(compiled(code), **extra_globals)  # type: ignore[arg-type]


class CompiledOnceSandboxRunner(SandboxedWorkflowRunner):
    """`SandboxedWorkflowRunner`, whose instances run compiled code instead of texts."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _CompiledOnceInstance(det, self.runner_class, self.restrictions)
