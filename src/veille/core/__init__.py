"""What every edge of Veille shares, below every capability.

Opening a ready database, the CLI's common options, the REST API's
dependencies and its one error shape, parameter types and the job system
live here. Nothing in this package imports a capability, ``veille.cli`` or
``veille.web``.
"""
