"""helpers: the tested package behind the course "Autoencoders for Anomaly Detection".

One module per job, each with its own ``__all__``; every public name is
re-exported here, so ``helpers.fit`` and ``helpers.training.fit`` are the same.
"""
from . import data, environment, exercises, latent, models, plots, recipes, scoring, tabular, training
from .data import *  # noqa: F401,F403
from .environment import *  # noqa: F401,F403
from .exercises import *  # noqa: F401,F403
from .latent import *  # noqa: F401,F403
from .models import *  # noqa: F401,F403
from .plots import *  # noqa: F401,F403
from .recipes import *  # noqa: F401,F403
from .scoring import *  # noqa: F401,F403
from .tabular import *  # noqa: F401,F403
from .training import *  # noqa: F401,F403

__all__ = [name for module in (environment, data, models, training, scoring, latent, plots, recipes, tabular,
                               exercises) for name in module.__all__]
__version__ = "0.2.0"
