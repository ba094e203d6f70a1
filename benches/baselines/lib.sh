# benches/baselines/lib.sh: what the peers' install.sh scripts share (sourced, not run).
#
#   venv_once DIR "pkg==1 pkg==2 ..."      a venv in DIR with exactly these PyPI packages; a marker
#                                          file makes later calls return at once, and another list
#                                          builds the venv again
#   maven_copy DIR "g:a:v g:a:v ..." [copy-dependencies flags...]
#                                          Maven resolves the artifacts from Maven Central (a
#                                          throwaway pom in DIR/pom, maven-dependency-plugin's
#                                          copy-dependencies, as scripts/stack fetches Kafka and
#                                          Cassandra) into DIR/all, file names without versions;
#                                          the log is DIR/mvn.log; status 1 when they do not resolve
#   prelude NAME CACHE                     say/die for the script, java and mvn checked, CACHE made

prelude() {
  PEER_NAME=$1
  command -v java >/dev/null || die "java is missing (scripts/stack up installs openjdk-17)"
  command -v mvn >/dev/null || die "mvn is missing (scripts/stack up installs maven)"
  mkdir -p "$2"
}
say() { printf '%s install: %s\n' "${PEER_NAME:-peer}" "$*" >&2; }
die() { say "$*"; exit 1; }

venv_once() {
  local dir=$1 want=$2
  if [[ -f $dir/.complete && $(<"$dir/.complete") == "$want" ]]; then return 0; fi
  say "creating $dir with $want (once)"
  rm -rf "$dir"
  python3 -m venv "$dir"
  # shellcheck disable=SC2086
  "$dir/bin/pip" install -q --disable-pip-version-check $want >"$dir.pip.log" 2>&1 ||
    { tail -n 30 "$dir.pip.log" >&2; die "pip install failed (see $dir.pip.log)"; }
  printf '%s' "$want" >"$dir/.complete"
}

maven_copy() {
  local dir=$1 artifacts=$2 deps='' a g v
  shift 2
  for a in $artifacts; do
    IFS=: read -r g a v <<<"$a"
    deps+="    <dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version></dependency>"$'\n'
  done
  rm -rf "$dir/pom" "$dir/all"
  mkdir -p "$dir/pom"
  cat >"$dir/pom/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
  <groupId>rtds.bench</groupId><artifactId>peer</artifactId><version>1</version><packaging>pom</packaging>
  <dependencies>
$deps  </dependencies>
</project>
POM
  # -U: a version missing last time is looked up again, not taken from Maven's negative cache.
  (cd "$dir/pom" && mvn -U -B -q org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -Dmdep.stripVersion=true -DoutputDirectory="$dir/all" "$@") >>"$dir/mvn.log" 2>&1
  local rc=$?
  rm -rf "$dir/pom"
  return $rc
}
