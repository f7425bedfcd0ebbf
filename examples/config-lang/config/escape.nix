# Reading outside the configuration directory is refused by the sandboxed IO.
builtins.readFile /etc/passwd
