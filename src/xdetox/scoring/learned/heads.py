"""Linear heads on standardised features, fitted here with numpy/scipy (no scikit-learn dependency).

- `ridge`: least squares on the human mean rating (1–5) with an L2 penalty `l2` on the standardised weights; the
  toxicity is the predicted rating put on [0, 1] as (rating − 1) / 4, clipped, so 0.5 ↔ a mean rating of 3, the
  human-toxic threshold. Uses the whole rating, not just which side of 3 it falls.
- `logistic`: L2-penalised logistic regression on human-toxic (mean ≥ 3); the toxicity is P(toxic).

Examples carry a weight (e.g. to balance a large English set against the RTP-LX languages). A binary-only example
(Jigsaw: toxic or not) enters ridge as rating 1 or `binary_rating` (4 by default: clearly above 3, not the extreme).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..base import ScoringError

HEADS = ("ridge", "logistic")
HUMAN_TOXIC = 3.0


@dataclass(frozen=True)
class HeadSpec:
    kind: str = "ridge"
    l2: float = 1000.0
    binary_rating: float = 4.0

    def __post_init__(self):
        if self.kind not in HEADS:
            raise ScoringError(f"learned scorer: unknown head {self.kind!r}; choose from {', '.join(HEADS)}")
        if not self.l2 > 0:
            raise ScoringError(f"learned scorer: head l2 must be > 0, got {self.l2}")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "l2": float(self.l2), "binary_rating": float(self.binary_rating)}


@dataclass
class Head:
    kind: str
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray
    bias: float

    def decision(self, features: np.ndarray) -> np.ndarray:
        return ((np.asarray(features, dtype=np.float64) - self.mean) / self.scale) @ self.weight + self.bias

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Toxicity in [0, 1]."""
        z = self.decision(features)
        if self.kind == "ridge":
            return np.clip((z - 1.0) / 4.0, 0.0, 1.0)
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))


def _standardise(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = np.average(x, axis=0, weights=w)
    scale = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    return mean, np.where(scale > 1e-8, scale, 1.0)


def fit_head(features: np.ndarray, rating: np.ndarray, spec: HeadSpec, weight: np.ndarray | None = None) -> Head:
    """Fit on features [n, d] and targets on the 1–5 rating scale (binary examples already mapped by the caller)."""
    x = np.asarray(features, dtype=np.float64)
    r = np.asarray(rating, dtype=np.float64)
    w = np.ones(len(r)) if weight is None else np.asarray(weight, dtype=np.float64)
    if len(r) < 2:
        raise ScoringError(f"learned scorer: {len(r)} training example(s); a head needs at least 2")
    mean, scale = _standardise(x, w)
    z = (x - mean) / scale
    if spec.kind == "ridge":
        return _fit_ridge(z, r, w, spec.l2, mean, scale)
    y = (r >= HUMAN_TOXIC).astype(np.float64)
    if y.min() == y.max():
        raise ScoringError("learned scorer: a logistic head needs toxic and non-toxic training examples")
    return _fit_logistic(z, y, w, spec.l2, mean, scale)


def _fit_ridge(z, r, w, l2, mean, scale) -> Head:
    # weighted centring makes the bias the weighted mean rating; normal equations in the d × d (or n × n) space
    r_mean = float(np.average(r, weights=w))
    sw = np.sqrt(w / w.mean())
    zc, rc = z * sw[:, None], (r - r_mean) * sw
    n, d = zc.shape
    if d <= n:
        coef = np.linalg.solve(zc.T @ zc + l2 * np.eye(d), zc.T @ rc)
    else:
        coef = zc.T @ np.linalg.solve(zc @ zc.T + l2 * np.eye(n), rc)
    return Head("ridge", mean, scale, coef, r_mean)


def _fit_logistic(z, y, w, l2, mean, scale) -> Head:
    from scipy.optimize import minimize

    w = w / w.mean()
    n, d = z.shape

    def loss(params):
        coef, b = params[:d], params[d]
        logits = z @ coef + b
        # log(1 + e^x) − y·x, stably
        value = np.sum(w * (np.logaddexp(0.0, logits) - y * logits)) + 0.5 * l2 * coef @ coef
        p = 1.0 / (1.0 + np.exp(-logits))
        g = w * (p - y)
        return value, np.concatenate([z.T @ g + l2 * coef, [g.sum()]])

    result = minimize(loss, np.zeros(d + 1), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    if not np.all(np.isfinite(result.x)):
        raise ScoringError(f"learned scorer: logistic head did not converge ({result.message})")
    return Head("logistic", mean, scale, result.x[:d], float(result.x[d]))
