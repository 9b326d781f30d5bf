"""The neural painter as a differentiable image parameterization (the paper's section 5)."""
