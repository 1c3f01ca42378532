"""Input layer: the data dictionary (schema), reading workbooks and CSV folders, validation into Inputs."""
