"""Reference deployments (``vulnerable`` / ``hardened``) that the suite's self-tests audit.

Everything here runs real software (network namespaces, OpenSSH, llama.cpp, a small
chat app) so that the audit code is exercised against the same kind of host it will
meet in the field, not against mocks.
"""
