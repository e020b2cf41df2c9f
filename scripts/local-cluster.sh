#!/usr/bin/env bash
# Start or stop a standalone Flink or Spark cluster on this machine, with Beam's job server and
# a pool of Python SDK workers, so `codemix build` runs on a real engine:
#
#   scripts/local-cluster.sh flink|spark up [WORKERS]   # WORKERS task managers / workers (2)
#   scripts/local-cluster.sh flink|spark down
#   scripts/local-cluster.sh flink|spark status
#
# `up` fetches what is missing into $CODEMIX_CACHE (default ~/.cache/codemix): the Beam runner
# and its dependencies through Maven, Flink's distribution from the apache-flink-libraries
# package and Spark's from pyspark (PyPI). It waits until every worker has registered and the
# job server answers, then prints as its last line the `codemix build` options that submit to
# the cluster. Every failure is one line on stderr and a non-zero exit.
#
# Each worker (Flink task manager with one slot, Spark worker with one core) runs its Python
# work in SDK harness processes that the worker pool (pipelines/worker_pool.py) starts for
# it: the EXTERNAL environment, since this machine has no Docker.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=../runners/versions.sh
source "$ROOT/runners/versions.sh"
CACHE=${CODEMIX_CACHE:-$HOME/.cache/codemix}
PYTHON=${CODEMIX_PYTHON:-$ROOT/.venv/bin/python}
HOST=127.0.0.1

die() { echo "local-cluster: $*" >&2; exit 1; }

usage() { die "usage: scripts/local-cluster.sh flink|spark up|down|status [WORKERS]"; }

[[ $# -ge 2 ]] || usage
ENGINE=$1; ACTION=$2; WORKERS=${3:-2}
[[ $ENGINE == flink || $ENGINE == spark ]] || usage
[[ $WORKERS =~ ^[1-9][0-9]*$ ]] || die "WORKERS must be a positive integer, got '$WORKERS'"

# Ports, per engine so both clusters can run at once; CODEMIX_PORT_BASE moves them all.
BASE=${CODEMIX_PORT_BASE:-0}
if [[ $ENGINE == flink ]]; then
  ENGINE_PORT=$((8081 + BASE)); RPC_PORT=$((6123 + BASE)); JOB_PORT=$((8099 + BASE))
  POOL_PORT=$((50000 + BASE))
else
  ENGINE_PORT=$((7077 + BASE)); RPC_PORT=$((8080 + BASE)); JOB_PORT=$((8199 + BASE))
  POOL_PORT=$((50100 + BASE))
fi
ARTIFACT_PORT=$((JOB_PORT - 1)); EXPANSION_PORT=$((JOB_PORT - 2))
STATE=${CODEMIX_CLUSTER_DIR:-$CACHE/clusters/$ENGINE}

# JVM flags every Java 17 process of Flink and Spark needs (their own scripts add the same).
JAVA_OPENS=(-XX:+IgnoreUnrecognizedVMOptions
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.lang.invoke=ALL-UNNAMED
  --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/sun.nio.cs=ALL-UNNAMED
  --add-opens=java.base/sun.security.action=ALL-UNNAMED
  --add-opens=java.base/sun.util.calendar=ALL-UNNAMED
  --add-exports=java.base/sun.net.util=ALL-UNNAMED
  --add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED
  --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED)

# ---------------------------------------------------------------- fetching into the cache

# fetch_runner ARTIFACT DIR: the Beam runner and its dependencies, as jars in DIR.
fetch_runner() {
  local artifact=$1 dir=$2 pom
  # The cache is complete for this pom: a dependency added to it is fetched on the next up.
  pom=$(sha256sum "$ROOT/runners/pom.xml" | cut -d' ' -f1)
  [[ -f $dir/.complete && $(cat "$dir/.complete") == "$pom" ]] && return
  command -v mvn >/dev/null || die "Maven (mvn) is not installed; it fetches Beam's job server"
  rm -rf "$dir.tmp"
  if ! mvn -B -q -f "$ROOT/runners/pom.xml" -Drunner="$artifact" -Dbeam.version="$BEAM_VERSION" \
      dependency:copy-dependencies -DoutputDirectory="$dir.tmp" >"$CACHE/mvn-$artifact.log" 2>&1
  then
    die "could not fetch org.apache.beam:$artifact:$BEAM_VERSION with Maven (log: $CACHE/mvn-$artifact.log)"
  fi
  rm -rf "$dir"; mv "$dir.tmp" "$dir"; echo "$pom" >"$dir/.complete"
}

# fetch_dist PACKAGE VERSION SUBDIR DEST: unpack SUBDIR of a PyPI source package into DEST.
fetch_dist() {
  local package=$1 version=$2 subdir=$3 dest=$4
  [[ -f $dest/.complete ]] && return
  local dl=$CACHE/downloads
  mkdir -p "$dl"
  local archive=$dl/$package-$version.tar.gz
  if [[ ! -f $archive ]]; then
    "$PYTHON" -m pip download --quiet --no-deps --no-binary=:all: "$package==$version" -d "$dl" \
      >"$CACHE/pip-$package.log" 2>&1 \
      || die "could not fetch $package==$version from PyPI (log: $CACHE/pip-$package.log)"
  fi
  rm -rf "$dest.tmp"; mkdir -p "$dest.tmp"
  tar -xzf "$archive" -C "$dest.tmp" --strip-components=2 "$package-$version/$subdir" \
    || die "$archive has no $subdir"
  rm -rf "$dest"; mv "$dest.tmp" "$dest"; touch "$dest/.complete"
}

# ---------------------------------------------------------------- processes

port_free() { ! (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# start NAME CMD...: run CMD in its own session, log and pid under $STATE.
start() {
  local name=$1; shift
  setsid "$@" >"$STATE/$name.log" 2>&1 < /dev/null &
  echo $! >"$STATE/$name.pid"
}

alive() { [[ -f $STATE/$1.pid ]] && kill -0 "$(cat "$STATE/$1.pid")" 2>/dev/null; }

# wait_for WHAT SECONDS TEST...: poll TEST until it succeeds; name the log of a dead process.
wait_for() {
  local what=$1 seconds=$2; shift 2
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    for pidfile in "$STATE"/*.pid; do
      local name; name=$(basename "$pidfile" .pid)
      alive "$name" || { die "$name exited while waiting for $what (log: $STATE/$name.log)"; }
    done
    ((SECONDS < deadline)) || { die "timed out after ${seconds}s waiting for $what (logs: $STATE/)"; }
    sleep 1
  done
}

stop_all() {
  local pidfile pid
  for pidfile in "$STATE"/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    # The whole session: a worker pool's SDK harnesses and a Spark worker's executors too.
    kill -TERM -- "-$pid" 2>/dev/null || true
  done
  for pidfile in "$STATE"/*.pid; do
    [[ -f $pidfile ]] || continue
    pid=$(cat "$pidfile")
    for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -KILL -- "-$pid" 2>/dev/null || true
    rm -f "$pidfile"
  done
  # The engines' scratch space (shuffle files, spilled sorts, RocksDB state and its logs,
  # Spark executors' folders with a copy of the runner's jars per job) belongs to the
  # cluster that wrote it: kept, it grew by 0.8 GB per Spark job and by gigabytes per
  # killed Flink job. The executors' logs are kept, in executors/.
  local log name
  for log in "$STATE"/tmp/work/*/*/stdout "$STATE"/tmp/work/*/*/stderr; do
    [[ -f $log ]] || continue
    name=${log#"$STATE/tmp/work/"}
    mkdir -p "$STATE/executors"
    mv "$log" "$STATE/executors/${name//\//-}"
  done
  rm -rf "$STATE/tmp"
}

check_prerequisites() {
  command -v java >/dev/null || die "Java is not installed (Flink and Spark need Java 11 or 17)"
  [[ -x $PYTHON ]] || die "no Python at $PYTHON (run 'make install', or set CODEMIX_PYTHON)"
  "$PYTHON" -c "import apache_beam, pipelines" 2>/dev/null \
    || die "$PYTHON cannot import apache_beam and codemix's pipelines (run 'make install')"
  local sdk
  sdk=$("$PYTHON" -c "import apache_beam; print(apache_beam.__version__)")
  [[ $sdk == "$BEAM_VERSION" ]] \
    || die "apache-beam $sdk is installed, the job server is $BEAM_VERSION (run 'make install')"
  for port in $ENGINE_PORT $RPC_PORT $JOB_PORT $ARTIFACT_PORT $EXPANSION_PORT $POOL_PORT; do
    port_free "$port" || die "port $port is in use (another cluster? 'scripts/local-cluster.sh $ENGINE down', or set CODEMIX_PORT_BASE)"
  done
}

start_pool() {
  start worker-pool "$PYTHON" -m pipelines.worker_pool --port="$POOL_PORT" --log-dir="$STATE/harness"
}

# ---------------------------------------------------------------- Flink

flink_up() {
  local flink=$CACHE/flink-$FLINK_VERSION runner=$CACHE/beam-$BEAM_VERSION/flink
  fetch_dist apache-flink-libraries "$FLINK_VERSION" deps "$flink"
  fetch_runner beam-runners-flink-1.19 "$runner"
  mkdir -p "$STATE/conf" "$STATE/tmp"
  cp "$flink/conf/log4j.properties" "$STATE/conf/" 2>/dev/null || cat >"$STATE/conf/log4j.properties" <<EOF
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = MainAppender
appender.main.name = MainAppender
appender.main.type = File
appender.main.fileName = \${sys:log.file}
appender.main.layout.type = PatternLayout
appender.main.layout.pattern = %d{yyyy-MM-dd HH:mm:ss,SSS} %-5p %-60c %x - %m%n
EOF
  cat >"$STATE/conf/flink-conf.yaml" <<EOF
jobmanager.rpc.address: $HOST
jobmanager.rpc.port: $RPC_PORT
jobmanager.bind-host: $HOST
jobmanager.memory.process.size: 1024m
rest.address: $HOST
rest.bind-address: $HOST
rest.port: $ENGINE_PORT
taskmanager.host: $HOST
taskmanager.bind-host: $HOST
taskmanager.numberOfTaskSlots: 1
taskmanager.memory.process.size: 3072m
taskmanager.memory.managed.size: 1280m
taskmanager.memory.network.min: 384m
taskmanager.memory.network.max: 384m
taskmanager.memory.segment-size: 8kb
parallelism.default: $WORKERS
state.backend.type: rocksdb
state.backend.rocksdb.log.dir: $STATE/tmp/rocksdb-logs
io.tmp.dirs: $STATE/tmp
blob.server.port: 0
taskmanager.rpc.port: 0
taskmanager.data.port: 0
heartbeat.timeout: 120000
EOF
  local cp="$flink/lib/*" log4j=(-Dlog4j.configurationFile="file:$STATE/conf/log4j.properties")
  # Deep thread stacks: a streaming job graph is a long chain that Java deserialization walks
  # recursively (StackOverflowError at submission with the default 1 MB).
  local stack=-Xss64m
  start jobmanager java "${JAVA_OPENS[@]}" -Xmx512m $stack "${log4j[@]}" -Dlog.file="$STATE/jobmanager.flink.log" \
    -cp "$cp" org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint \
    --configDir "$STATE/conf"
  # The task manager's JVM sizes come from Flink's own calculation, as its scripts do.
  local params jvm dynamic
  params=$(java -cp "$flink/bin/bash-java-utils.jar:$cp" org.apache.flink.runtime.util.bash.BashJavaUtils \
    GET_TM_RESOURCE_PARAMS --configDir "$STATE/conf" 2>/dev/null | grep BASH_JAVA_UTILS_EXEC_RESULT: | cut -d: -f2-) \
    || die "Flink could not size the task manager from $STATE/conf/flink-conf.yaml"
  jvm=$(sed -n 1p <<<"$params"); dynamic=$(sed -n 2p <<<"$params")
  local i
  for ((i = 1; i <= WORKERS; i++)); do
    # shellcheck disable=SC2086  # Flink's word lists, split on purpose
    start "taskmanager-$i" java "${JAVA_OPENS[@]}" $jvm $stack "${log4j[@]}" \
      -Dlog.file="$STATE/taskmanager-$i.flink.log" -cp "$cp" \
      org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$STATE/conf" $dynamic
  done
  start_pool
  wait_for "$WORKERS Flink task managers" 120 flink_ready
  start job-server java -Xmx1g -cp "$runner/*" org.apache.beam.runners.flink.FlinkJobServerDriver \
    --flink-master="$HOST:$ENGINE_PORT" --job-host="$HOST" --job-port="$JOB_PORT" \
    --artifact-port="$ARTIFACT_PORT" --expansion-port="$EXPANSION_PORT"
  wait_for "the Flink job server" 120 job_server_ready
  # --streaming: Beam's DataStream translation. The DataSet (batch) one plans the build's
  # unrolled clustering rounds for ever: Flink's batch optimizer walks every path of the plan,
  # and each round's convergence check (a side input) doubles them. The streaming job keeps
  # a shuffle's groups in RocksDB (state.backend.type above), on disk, until its input ends.
  options "--parallelism=$WORKERS --streaming"
}

flink_ready() {
  local overview
  overview=$(curl -sf "http://$HOST:$ENGINE_PORT/overview" 2>/dev/null) || return 1
  [[ $overview =~ \"taskmanagers\":([0-9]+) ]] && ((BASH_REMATCH[1] >= WORKERS))
}

# ---------------------------------------------------------------- Spark

spark_up() {
  local spark=$CACHE/spark-$SPARK_VERSION runner=$CACHE/beam-$BEAM_VERSION/spark
  fetch_dist pyspark "$SPARK_VERSION" deps "$spark"
  fetch_runner beam-runners-spark-3 "$runner"
  mkdir -p "$STATE/tmp/work"
  # Spark's launcher finds its jars under SPARK_HOME/jars and needs the Scala version named.
  export SPARK_HOME=$spark SPARK_SCALA_VERSION=2.12 SPARK_LOCAL_IP=$HOST SPARK_LOCAL_DIRS=$STATE/tmp
  local cp="$spark/jars/*"
  start master java "${JAVA_OPENS[@]}" -Xmx512m -cp "$cp" org.apache.spark.deploy.master.Master \
    --host "$HOST" --port "$ENGINE_PORT" --webui-port "$RPC_PORT"
  wait_for "the Spark master" 60 port_open "$ENGINE_PORT"
  local i
  for ((i = 1; i <= WORKERS; i++)); do
    start "worker-$i" java "${JAVA_OPENS[@]}" -Xmx512m -cp "$cp" org.apache.spark.deploy.worker.Worker \
      --host "$HOST" --cores 1 --memory 2g --webui-port 0 --work-dir "$STATE/tmp/work" \
      "spark://$HOST:$ENGINE_PORT"
  done
  start_pool
  wait_for "$WORKERS Spark workers" 120 spark_ready
  # The job server is the Spark driver: Beam's runner before Spark's jars, Java 17's opens.
  # Executors get the runner's jars from the driver, after Spark's own; Beam's Guava must
  # come first there too (Spark ships Guava 14, Beam's GCS options need 33).
  local guava
  guava=$(compgen -G "$runner/guava-*.jar"):$(compgen -G "$runner/failureaccess-*.jar")
  start job-server java "${JAVA_OPENS[@]}" -Xmx1g -Dspark.executor.extraClassPath="$guava" \
    -cp "$runner/*:$cp" \
    org.apache.beam.runners.spark.SparkJobServerDriver --spark-master-url="spark://$HOST:$ENGINE_PORT" \
    --job-host="$HOST" --job-port="$JOB_PORT" --artifact-port="$ARTIFACT_PORT" \
    --expansion-port="$EXPANSION_PORT"
  wait_for "the Spark job server" 120 job_server_ready
  options
}

spark_ready() {
  local state
  state=$(curl -sf "http://$HOST:$RPC_PORT/json/" 2>/dev/null) || return 1
  [[ $state =~ \"aliveworkers\"\ *:\ *([0-9]+) ]] && ((BASH_REMATCH[1] >= WORKERS))
}

# ---------------------------------------------------------------- common

port_open() { ! port_free "$1"; }

job_server_ready() { port_open "$JOB_PORT" && port_open "$ARTIFACT_PORT"; }

options() {
  echo "--runner=PortableRunner --job_endpoint=$HOST:$JOB_PORT --artifact_endpoint=$HOST:$ARTIFACT_PORT --environment_type=EXTERNAL --environment_config=$HOST:$POOL_PORT $*"
}

case $ACTION in
  up)
    mkdir -p "$CACHE" "$STATE"
    compgen -G "$STATE/*.pid" >/dev/null && for p in "$STATE"/*.pid; do
      alive "$(basename "$p" .pid)" && die "a $ENGINE cluster is already up ('scripts/local-cluster.sh $ENGINE down' first)"
    done
    rm -f "$STATE"/*.pid
    check_prerequisites
    # A failed start leaves nothing running behind it.
    trap '[[ ${ready:-0} == 1 ]] || stop_all' EXIT
    "${ENGINE}_up"
    ready=1
    ;;
  down)
    [[ -d $STATE ]] && stop_all
    echo "$ENGINE cluster stopped"
    ;;
  status)
    running=0
    for p in "$STATE"/*.pid; do [[ -f $p ]] && alive "$(basename "$p" .pid)" && running=$((running + 1)); done
    echo "$ENGINE: $running process(es) running"
    ;;
  *) usage ;;
esac
