"""The ``pipenv sync`` integration: a start-up hook (.pth) and the wrapper of pipenv's CLI."""
