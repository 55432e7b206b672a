"""Exit codes of every tfagent command: the one table the CLI, the eval and serving share."""

EXIT_OK = 0  # verified / done
EXIT_UNVERIFIED = 1  # not verified (eval: incomplete or conflicts)
EXIT_INCOMPLETE = EXIT_UNVERIFIED
EXIT_USAGE = 2  # usage, configuration or bad input
EXIT_UNREACHABLE = 3  # the model server cannot be reached
EXIT_FORGE = 4  # forge or git API error
EXIT_CONTEXT = 5  # the conversation does not fit the model's context window, even after dropping old replies
EXIT_ENVIRONMENT = 6  # the machine, not the model: a provider that cannot be installed, Terraform missing, a verifier that crashed
