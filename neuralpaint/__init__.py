"""neuralpaint: brushstroke painting as a benchmark.

Gymnasium environments that paint with the real MyPaint brush engine (libmypaint)
and with neural painters, networks trained to imitate it that are differentiable.
Importing the package registers the environment ids (``NeuralPaint-MNIST-v0``, ...);
``gym.make("neuralpaint:NeuralPaint-MNIST-v0")`` imports it for you.
"""

__version__ = "0.1.0"

from neuralpaint.envs.registration import register_envs  # noqa: E402

register_envs()
