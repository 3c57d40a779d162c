"""locallearn: online, gradient-free local learning for spiking and recurrent networks.

import locallearn as ll
net = ll.Network(ll.NetworkConfig(n_in=40, n_rec=100, n_out=2, n_adaptive=50))
rule = ll.rules.make("eprop", feedback="random")
g = ll.gradient_estimate(net, rule, inputs, targets, loss="mse")
gb = ll.reference.bptt_gradients(net, inputs, targets, loss="mse")
"""

import os

# numba's OpenMP layer (GNU OpenMP here) spin-waits at every parallel region's barrier. With more
# runnable threads than cores (a busy machine, a sweep with one process per core) a 2-thread trace
# sweep measured 100x slower: 7.6 ms instead of 76 us per online step at n_rec 256. Passive waiting
# bounds that at no measured cost at n_rec 1024 (benchmarks/online_threads.py --load 2). Set before
# numba starts its threads; a value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# numba's kernel cache, keyed by every kernel source (a cached kernel that calls one from another
# file would otherwise outlive an edit of it): set on import, before any kernel is defined
from . import _kernel_cache as _kernel_cache  # isort: skip

# locallearn.rules and locallearn.tasks are installed from the top-level rules/ and tasks/ folders.
from . import metrics, reference, rules, stats, streams, tasks
from .config import ConfigError, UnknownNameError
from .network import Network, NetworkConfig
from .optim import SGD, Adam, make_optimizer
from .protocols import Feedback, Rule
from .runner import OnlineLearner, SequenceResult, gradient_estimate

__version__ = "0.1.0"

__all__ = [
    "Adam",
    "ConfigError",
    "Feedback",
    "Network",
    "NetworkConfig",
    "OnlineLearner",
    "Rule",
    "SGD",
    "SequenceResult",
    "UnknownNameError",
    "gradient_estimate",
    "make_optimizer",
    "metrics",
    "stats",
    "streams",
    "reference",
    "rules",
    "tasks",
]
