"""Running the notebooks and publishing a run: runner, command line, headline record,
notebook helpers and the index template. The top layer: may import everything else."""
