"""Each warehouse family's ``Dialect``: one module a family, collected by ``state/dialects``."""
