"""neuralpaint: brushstroke painting as a benchmark.

Gymnasium environments that paint with the real MyPaint brush engine (libmypaint)
and with neural painters, networks trained to imitate it that are differentiable.
"""

__version__ = "0.1.0"
