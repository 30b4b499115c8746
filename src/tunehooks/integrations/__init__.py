"""Framework integrations. Each framework is imported only in its own module:
``tunehooks.integrations.lightning``, ``.keras``, ``.mxnet``, ``.torch``."""

__all__: list[str] = []
