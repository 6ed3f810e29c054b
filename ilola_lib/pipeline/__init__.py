"""Running the pipeline: the params.yaml schema and the notebook runner."""
