# The engine versions codemix runs on, in one place (sourced by scripts/local-cluster.sh).
# BEAM_VERSION must equal the apache-beam pin in setup.cfg: the Python SDK and the job servers
# speak one version of the portability API. 2.62.0 is the newest Beam whose Flink 1.19 and
# Spark 3 runners resolve from Maven Central together with their job service.
BEAM_VERSION=2.62.0
FLINK_VERSION=1.19.0      # the Flink the Beam runner is built against (beam-runners-flink-1.19)
SPARK_VERSION=3.5.3       # Spark 3.5, Scala 2.12, as Beam's Spark 3 job server ships
