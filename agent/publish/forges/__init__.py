"""The built-in forges (GitHub, GitLab), registered by entry point like any third party's."""
