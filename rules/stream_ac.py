"""Stream AC(λ) (Elsayed, Vasan & Mahmood 2024, arXiv 2410.14606; reference code
mohmdelsayed/streaming-drl): the non-spiking streaming actor-critic a reinforcement-learning
user would pick instead — written in numpy with hand-derived gradients, no autograd.

Actor and critic are separate MLPs on the observation features x (the agent's encoded
observation: the same input the spiking agents get; ``agent.encoder = "current"`` gives the
scaled observation itself)::

    h_l = W_l a_{l-1} + b_l,   n_l = LN(h_l) = (h_l - mean h_l) / sqrt(var h_l + 1e-5)   (no gain)
    a_l = leaky_relu(n_l, 0.01)      (l = 1, 2; a_0 = x normalised by its running mean and std)
    logits = W_3 a_2 + b_3  (actor),  V = W_3 a_2 + b_3  (critic, one output)

Weights start sparse (90 % of each row's inputs zero, the rest uniform in ±1/sqrt(fan_in)),
biases zero. Per environment step, with delta = r~ + gamma V(s') - V(s) (r~ the reward divided by
the running std of the discounted return; no bootstrap after termination, bootstrap after
truncation as everywhere in this package)::

    e_pi <- gamma lam e_pi + grad[-log pi(a|s) - c_H sign(delta) H(pi(s))]
    e_V  <- gamma lam e_V  + grad[-V(s)]
    theta <- theta - alpha_t delta e,   alpha_t = lr / max(1, lr kappa max(|delta|, 1) ||e||_1)

(ObGD: the step-size bound that keeps an update from overshooting; kappa 3 for the actor, 2 for
the critic). Traces restart each episode. Hyper-parameters are the paper's (lr 1, gamma 0.99,
lam 0.8, c_H 0.01, hidden 32, as in its discrete-action script).

Differences from the reference code, stated: the observation is this package's encoded
observation (already scaled to [0, 1]) before the running normalisation; truncation bootstraps
(the reference stops at any episode end); MinAtar's convolutional front end is not used (an MLP
on the flattened grid).

The spiking network the agent builds is not used by this rule (it never steps it).
"""

from __future__ import annotations

import math

import numpy as np

from locallearn import streams
from locallearn.config import check_int, check_positive
from locallearn.losses import softmax
from locallearn.protocols import ReinforcementRule

from . import register

LN_EPS, SLOPE, SPARSITY = 1e-5, 0.01, 0.9


def sparse_init(n_out: int, n_in: int, rng: np.random.Generator, sparsity: float = SPARSITY) -> np.ndarray:
    """Uniform in ±1/sqrt(n_in), with ceil(sparsity n_in) inputs of every row set to zero."""
    bound = 1.0 / math.sqrt(n_in)
    w = rng.uniform(-bound, bound, (n_out, n_in))
    zeros = int(math.ceil(sparsity * n_in))
    for row in range(n_out):
        w[row, rng.permutation(n_in)[:zeros]] = 0.0
    return w


def mlp_forward(params: dict, x: np.ndarray) -> tuple[np.ndarray, dict]:
    """Output and the intermediate values :func:`mlp_backward` needs."""
    cache = {"a0": x}
    a = x
    for layer in (1, 2):
        h = params[f"w{layer}"] @ a + params[f"b{layer}"]
        mu, sigma = h.mean(), math.sqrt(h.var() + LN_EPS)
        n = (h - mu) / sigma
        cache[f"n{layer}"], cache[f"sigma{layer}"] = n, sigma
        a = np.where(n > 0, n, SLOPE * n)
        cache[f"a{layer}"] = a
    return params["w3"] @ a + params["b3"], cache


def mlp_backward(params: dict, cache: dict, d_out: np.ndarray) -> dict:
    """Gradients of a scalar whose derivative with respect to the output is ``d_out``."""
    grads = {"w3": np.outer(d_out, cache["a2"]), "b3": d_out.copy()}
    d_a = params["w3"].T @ d_out
    for layer in (2, 1):
        n, sigma = cache[f"n{layer}"], cache[f"sigma{layer}"]
        d_n = d_a * np.where(n > 0, 1.0, SLOPE)
        d_h = (d_n - d_n.mean() - n * (d_n * n).mean()) / sigma  # layer norm without gain
        grads[f"w{layer}"] = np.outer(d_h, cache[f"a{layer - 1}"])
        grads[f"b{layer}"] = d_h
        d_a = params[f"w{layer}"].T @ d_h
    return grads


class RunningMoments:
    """Running mean and sample variance (Welford), as the reference code's SampleMeanStd."""

    def __init__(self, shape=()):
        self.count = 0
        self.mean = np.zeros(shape)
        self.m2 = np.zeros(shape)

    def update(self, x) -> None:
        self.count += 1
        delta = x - self.mean
        self.mean = self.mean + delta / self.count
        self.m2 = self.m2 + delta * (x - self.mean)

    @property
    def var(self):
        return self.m2 / (self.count - 1) if self.count > 1 else np.ones_like(self.mean)


@register("stream-ac")
class StreamAC(ReinforcementRule):
    """Stream AC(λ) with ObGD, LayerNorm and sparse initialisation (see the module docstring)."""

    name = "stream-ac"

    def __init__(
        self,
        lr: float = 1.0,
        gamma: float = 0.99,
        lam: float = 0.8,
        hidden: int = 32,
        kappa_policy: float = 3.0,
        kappa_value: float = 2.0,
        c_entropy: float = 0.01,
        seed: int | None = None,
    ):
        for name, value in (("gamma", gamma), ("lam", lam)):
            if not 0 <= value <= 1:
                raise ValueError(f"StreamAC.{name} must lie in [0, 1], got {value}")
        for name, value in (("lr", lr), ("kappa_policy", kappa_policy), ("kappa_value", kappa_value)):
            check_positive("StreamAC", name, value)
        check_positive("StreamAC", "c_entropy", c_entropy, allow_zero=True)
        check_int("StreamAC", "hidden", hidden, minimum=2)
        self.lr, self.gamma, self.lam, self.hidden = lr, gamma, lam, hidden
        self.kappa = {"policy": kappa_policy, "value": kappa_value}
        self.c_entropy, self.seed = c_entropy, seed
        self.net = None

    def bind(self, net) -> None:
        if self.net is net:
            return
        self.net = net
        self.n_actions = net.n_out - 1
        rng = streams.generator(net.config.seed if self.seed is None else self.seed, "stream_ac_init")
        n_in = net.n_in
        self.params = {}
        for part, n_out in (("policy", self.n_actions), ("value", 1)):
            sizes = [(self.hidden, n_in), (self.hidden, self.hidden), (n_out, self.hidden)]
            self.params[part] = {}
            for layer, (rows, cols) in enumerate(sizes, start=1):
                self.params[part][f"w{layer}"] = sparse_init(rows, cols, rng)
                self.params[part][f"b{layer}"] = np.zeros(rows)
        self.obs_stats = RunningMoments(n_in)
        self.return_stats = RunningMoments()
        self.return_trace = 0.0
        self.x = np.zeros(n_in)
        self.begin_episode()

    def begin_episode(self) -> None:
        self.traces = {part: {k: np.zeros_like(v) for k, v in p.items()} for part, p in self.params.items()}
        self.pending = None  # (x, action, scaled reward) waiting for V of the next state
        self.last_delta = 0.0

    # ------------------------------------------------------------------ observations
    def _normalise(self, raw: np.ndarray) -> np.ndarray:
        return (raw - self.obs_stats.mean) / np.sqrt(self.obs_stats.var + 1e-8)

    def advance_many(self, net, inputs: np.ndarray, decide_last: bool = False) -> None:
        """The encoded observation (last micro-step's input) becomes x; its running moments
        move on. The spiking network is not stepped."""
        raw = np.asarray(inputs[-1], np.float64)
        self.obs_stats.update(raw)
        self.x = self._normalise(raw)

    def present_frozen(self, net, inputs: np.ndarray) -> None:
        self.x = self._normalise(np.asarray(inputs[-1], np.float64))

    def policy(self, net) -> tuple[np.ndarray, float]:
        logits, _ = mlp_forward(self.params["policy"], self.x)
        value, _ = mlp_forward(self.params["value"], self.x)
        return softmax(logits), float(value[0])

    # ------------------------------------------------------------------ learning
    def _scale(self, reward: float, terminal: bool) -> float:
        self.return_trace = self.return_trace * self.gamma * (0.0 if terminal else 1.0) + reward
        self.return_stats.update(self.return_trace)
        return reward / math.sqrt(float(self.return_stats.var) + 1e-8)

    def _learn(self, next_value: float) -> None:
        x, action, reward = self.pending
        self.pending = None
        logits, policy_cache = mlp_forward(self.params["policy"], x)
        value, value_cache = mlp_forward(self.params["value"], x)
        delta = reward + self.gamma * next_value - float(value[0])
        self.last_delta = delta
        pi = softmax(logits)
        log_pi = np.log(pi + 1e-12)
        entropy = -float(np.sum(pi * log_pi))
        d_logits = pi.copy()
        d_logits[action] -= 1.0  # d(-log pi_a)/d logits
        d_logits += self.c_entropy * np.sign(delta) * pi * (log_pi + entropy)  # d(-c sign H)
        gradients = {
            "policy": mlp_backward(self.params["policy"], policy_cache, d_logits),
            "value": mlp_backward(self.params["value"], value_cache, np.array([-1.0])),
        }
        decay = self.gamma * self.lam
        for part, grads in gradients.items():
            traces = self.traces[part]
            for name, grad in grads.items():
                traces[name] *= decay
                traces[name] += grad
            norm = sum(float(np.abs(e).sum()) for e in traces.values())
            bound = self.lr * self.kappa[part] * max(abs(delta), 1.0) * norm
            step = self.lr / bound if bound > 1 else self.lr
            for name, trace in traces.items():
                self.params[part][name] -= step * delta * trace

    def decide(self, net, rng: np.random.Generator, greedy: bool = False) -> int:
        if self.pending is not None:
            self._learn(float(mlp_forward(self.params["value"], self.x)[0][0]))
        pi, _ = self.policy(net)
        action = (
            int(np.argmax(pi))
            if greedy
            else int(min(np.searchsorted(np.cumsum(pi), rng.random()), len(pi) - 1))
        )
        self.pending = (self.x.copy(), action, None)
        return action

    def observe(self, reward: float, terminated: bool, truncated: bool) -> None:
        x, action, _ = self.pending
        self.pending = (x, action, self._scale(float(reward), terminated or truncated))
        if terminated:
            self._learn(0.0)

    def bootstrap(self, net) -> None:
        if self.pending is not None:
            self._learn(float(mlp_forward(self.params["value"], self.x)[0][0]))
