"""Inference for a fitted network: torch eager, or its ONNX export run by onnxruntime.

Both take user numbers (B,) and candidate item numbers (N,) and return float32 (B, N) scores;
the ONNX graph is ``WideDeepNet.forward`` exported with the tables inside, so it needs neither
torch nor the model's arrays once built.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    from tailor.models.wide_deep.network import WideDeepNet

OPSET = 17


class Scorer(Protocol):
    """Scores (B, N) of users against candidate items."""

    def __call__(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """float32 (len(users), len(items)) scores."""
        ...


def onnxruntime_available() -> bool:
    """Whether onnxruntime is installed (the model then scores through it)."""
    return importlib.util.find_spec("onnxruntime") is not None


class TorchScorer:
    """The network in eval mode, on the CPU, without gradients."""

    def __init__(self, net: WideDeepNet) -> None:
        self.net = net.cpu().eval()

    def __call__(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """float32 (len(users), len(items)) scores."""
        import torch

        with torch.inference_mode():
            out = self.net(
                torch.from_numpy(users.astype(np.int64)), torch.from_numpy(items.astype(np.int64))
            )
        scores: np.ndarray = out.numpy().astype(np.float32, copy=False)
        return scores


def export_onnx(net: WideDeepNet) -> bytes:
    """``net.forward`` as an ONNX model (users and items of any length)."""
    import torch

    net = net.cpu().eval()
    sample = (torch.zeros(2, dtype=torch.int64), torch.zeros(3, dtype=torch.int64))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(
            net,
            sample,
            buffer,  # type: ignore[arg-type]  # the TorchScript exporter writes file objects
            dynamo=False,
            input_names=["users", "items"],
            output_names=["scores"],
            dynamic_axes={
                "users": {0: "users"},
                "items": {0: "items"},
                "scores": {0: "users", 1: "items"},
            },
            opset_version=OPSET,
        )
    return buffer.getvalue()


class OnnxScorer:
    """An onnxruntime session over the exported network (CPU execution provider)."""

    def __init__(self, model: bytes, threads: int = 0) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        self.session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    @classmethod
    def from_net(cls, net: WideDeepNet, threads: int = 0) -> OnnxScorer:
        """Export ``net`` and open a session on it."""
        return cls(export_onnx(net), threads)

    def __call__(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """float32 (len(users), len(items)) scores."""
        feed = {"users": users.astype(np.int64), "items": items.astype(np.int64)}
        scores: np.ndarray = self.session.run(None, feed)[0]
        return scores
