"""The codemix command line: build, train, inspect."""
