#!/usr/bin/env bats
# Docker drop-in: den started as "docker", shell completions generated from the
# command table, help / man pages / completions kept consistent, --format
# templates from docker's documentation, and the environment variables
# scripts written for docker or podman set.

load helpers

# The source tree's man/ and contrib/: $DEN_SRCDIR, or next to the installed
# tests (tests/setup copies them), or the repository around tests/system.
den_source_dir() {
    local d
    for d in "${DEN_SRCDIR:-}" "$BATS_TEST_DIRNAME/.." "$BATS_TEST_DIRNAME/../.."; do
        if [[ -n $d && -f $d/man/den.1 && -d $d/contrib/completion ]]; then
            echo "$d"
            return 0
        fi
    done
    return 1
}

# A directory with a symlink named docker to the den under test.
docker_shim() {
    local bin=$BATS_TEST_TMPDIR/shim
    mkdir -p "$bin"
    ln -sf "$(readlink -f "$(command -v "$DEN")")" "$bin/docker"
    echo "$bin/docker"
}

# run_docker ARGS... : like run_den, through the docker symlink.
run_docker() {
    local docker
    docker=$(docker_shim)
    DEN_LAST_CMD="docker $*"
    run --separate-stderr timeout --kill-after=10 "$DEN_CMD_TIMEOUT" "$docker" "$@"
}

# ---------------------------------------------------------------------------
# den as docker

@test "docker symlink: ps, image ls, container ls -a, version" {
    import_busybox bb >/dev/null
    den create --name web bb true >/dev/null

    run_docker ps
    assert_success
    assert_line_matches '^CONTAINER ID +IMAGE +COMMAND +CREATED +STATUS +PORTS +NAMES$'
    assert_line_count 1

    run_docker container ls -a --format '{{.Names}} {{.Image}} {{.Status}}'
    assert_success
    assert_output "web bb Created"

    run_docker container ls -a
    assert_success
    assert_line_matches '^[0-9a-f]{12} +bb +"true" +.* +Created +web$'

    run_docker image ls
    assert_success
    assert_line_matches '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
    assert_line_matches '^bb +latest +[0-9a-f]{12} '

    run_docker version
    assert_success
    assert_line_matches "^Version: {6}${DEN_EXPECTED_VERSION//./\\.}\$"
    run_docker version --format '{{.Client.Version}}'
    assert_success
    assert_output "$DEN_EXPECTED_VERSION"
    run_docker --version
    assert_success
    assert_output "den (as docker) version $DEN_EXPECTED_VERSION"
}

@test "docker symlink: usage, help examples and errors say docker" {
    run_docker --help
    assert_success
    assert_output_contains "Usage:  docker [OPTIONS] COMMAND"
    assert_output_contains "Run 'docker COMMAND --help'"

    run_docker rm --help
    assert_success
    assert_output_contains "Usage:  docker rm [OPTIONS] CONTAINER [CONTAINER...]"
    assert_output_contains "docker container rm"
    assert_output_contains '  docker rm -f $(docker ps -aq)'
    assert_output_not_contains "den "

    run_docker image --help
    assert_success
    assert_output_contains "Usage:  docker image COMMAND"

    run_docker ps --bogus
    assert_den_error "unknown flag: --bogus \\(see 'docker ps --help'\\)"
    run_docker imgs
    assert_den_error "unknown command \"imgs\" for \"docker\": did you mean \"images\"\\?"
    # A group's subcommand is suggested among that group's commands.
    run_docker container lss
    assert_den_error "unknown command \"lss\" for \"docker container\": did you mean \"ls\"\\?"
    run_docker rename web
    assert_den_error "\"docker rename\" requires exactly 2 arguments"
}

@test "contrib/install-docker-shim.sh links ~/.local/bin/docker to den" {
    local src
    src=$(den_source_dir) || skip "contrib/ not found (set DEN_SRCDIR)"
    local home=$BATS_TEST_TMPDIR/home denbin=$BATS_TEST_TMPDIR/denbin
    mkdir -p "$home" "$denbin"
    ln -s "$(readlink -f "$(command -v "$DEN")")" "$denbin/den"

    run_sh "HOME='$home' PATH='$denbin:/usr/bin:/bin' sh '$src/contrib/install-docker-shim.sh'"
    assert_success
    assert_output_contains "installed $home/.local/bin/docker"
    # ~/.local/bin is not in that PATH: the script says how to add it.
    assert_output_contains "export PATH=\"$home/.local/bin:\$PATH\""
    assert_equal "$(readlink "$home/.local/bin/docker")" "$(readlink -f "$denbin/den")" "shim target"
    run_sh "HOME='$home' PATH='$home/.local/bin:/usr/bin:/bin' docker version --format '{{.Client.Version}}'"
    assert_success
    assert_output "$DEN_EXPECTED_VERSION"

    # Again: nothing to do, nothing to say about PATH when it is right.
    run_sh "HOME='$home' PATH='$home/.local/bin:$denbin:/usr/bin:/bin' sh '$src/contrib/install-docker-shim.sh'"
    assert_success
    assert_output_contains "already points at"
    assert_output_not_contains "export PATH"

    # Something else named docker is left alone unless --force.
    rm "$home/.local/bin/docker"
    printf '#!/bin/sh\necho real docker\n' >"$home/.local/bin/docker"
    run_sh "HOME='$home' PATH='$denbin:/usr/bin:/bin' sh '$src/contrib/install-docker-shim.sh'"
    assert_failure 1
    assert_stderr_contains "use --force"
    assert_equal "$(cat "$home/.local/bin/docker")" "$(printf '#!/bin/sh\necho real docker')" "untouched file"

    run_sh "HOME='$home' PATH='$denbin:/usr/bin:/bin' sh '$src/contrib/install-docker-shim.sh' --uninstall"
    assert_failure 1
    run_sh "HOME='$home' PATH='$denbin:/usr/bin:/bin' sh '$src/contrib/install-docker-shim.sh' --force"
    assert_success
    [[ -L $home/.local/bin/docker ]] || fail "--force did not make the symlink"
    run_sh "HOME='$home' PATH='$denbin:/usr/bin:/bin' sh '$src/contrib/install-docker-shim.sh' --uninstall"
    assert_success
    [[ ! -e $home/.local/bin/docker ]] || fail "--uninstall left the shim"
}

# ---------------------------------------------------------------------------
# Shell completions

# bash_complete WORD... : the completions the generated bash script offers for
# the command line WORD... (the last word is the one being completed).
bash_complete() {
    local script=$BATS_TEST_TMPDIR/den.bash
    [[ -s $script ]] || den completion bash >"$script"
    bash -c 'source "$1"; shift
             COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
             _den
             printf "%s\n" "${COMPREPLY[@]}"' _ "$script" "$@"
}

@test "completion bash: parses, registers _den, completes commands, subcommands and flags" {
    run_sh "'$DEN' completion bash | bash -n"
    assert_success
    assert_stderr_empty

    den completion bash >"$WORK/den.bash"
    run bash -c "source '$WORK/den.bash' && complete -p den"
    assert_success
    assert_output "complete -o default -F _den den"

    run bash_complete den ima
    assert_success
    assert_output "$(printf 'image\nimages')"
    # Management forms.
    run bash_complete den container l
    assert_output "$(printf 'list\nlogs\nls')"
    run bash_complete den image r
    assert_output "$(printf 'remove\nrm')"
    # Flags of the command under all its names, long and short.
    run bash_complete den ps --f
    assert_output "$(printf -- '--filter\n--format')"
    run bash_complete den container ls --n
    assert_output "--no-trunc"
    run bash_complete den image ls -q
    assert_output "-q"
    # run's -h is --hostname, so it is offered once; --help is offered too.
    run bash_complete den run --hel
    assert_output "--help"
    # Global options before the command are skipped.
    run bash_complete den --root /x ima
    assert_output "$(printf 'image\nimages')"
    run bash_complete den --ver
    assert_output "--version"
    # After the image, run's words are the container command's.
    run bash_complete den run bb --
    assert_output ""
    # The value of an option is left to readline (file names).
    run bash_complete den ps --format ""
    assert_output ""
    # Hidden commands are not offered (generate-man-pages; the generate group is).
    run bash_complete den gen
    assert_output "generate"
}

@test "completion zsh: parses and completes commands and flags" {
    command -v zsh >/dev/null || skip "zsh is not installed"
    den completion zsh >"$WORK/_den"
    run zsh -n "$WORK/_den"
    assert_success
    assert_stderr_empty
    [[ $(head -n1 "$WORK/_den") == "#compdef den docker" ]] || fail "first line is not #compdef den docker"

    # compsys is not initialized in a script: _describe and _default stubs
    # print what the completion function asks for.
    run zsh -f -c '
        compdef() { :; }
        _describe() { print -r -- "$3: ${(j: :)${(@)items%%:*}}"; }
        _default() { print default; }
        source "$1"
        t() { words=("$@"); CURRENT=$#words; PREFIX=$words[-1]; _den; }
        t den ima; t den image r; t den ps --f; t den run bb -; t den ps --format ""' _ "$WORK/_den"
    assert_success
    assert_line_matches '^den command: .* image images .*$'
    assert_line_matches '^image command: history import inspect list load ls prune pull push remove rm save tag$'
    assert_line_matches '^option: --all -a --filter -f --format --help -h --last -n --latest -l --no-trunc --pod -p --quiet -q --size -s$'
    assert_line_count 5
    assert_line_matches '^default$'
}

@test "completion fish: parses and completes commands and flags" {
    command -v fish >/dev/null || skip "fish is not installed"
    den completion fish >"$WORK/den.fish"
    run fish -n "$WORK/den.fish"
    assert_success
    assert_stderr_empty

    run fish --no-config -c "source '$WORK/den.fish'; complete -C 'den ima'"
    assert_success
    assert_output "$(printf 'image\tManage images\nimages\tList images')"
    run fish --no-config -c "source '$WORK/den.fish'; complete -C 'den image r'"
    assert_output "$(printf 'remove\tRemove one or more images\nrm\tRemove one or more images')"
    run fish --no-config -c "source '$WORK/den.fish'; complete -C 'den container ls --n'"
    assert_output "$(printf -- "--no-trunc\tDon't truncate output")"
    # image rm has its own flags, not those of (container) rm.
    run fish --no-config -c "source '$WORK/den.fish'; complete -C 'den image rm --'"
    assert_output "$(printf -- '--force\tForce removal of the image\n--help\tPrint usage\n--no-prune\tDo not delete untagged parents')"
}

@test "completion: an unknown shell is refused" {
    run_den completion tcsh
    assert_den_error 'unknown shell "tcsh": use bash, zsh or fish'
    run_den completion
    assert_den_error '"den completion" requires exactly 1 argument'
}

@test "contrib/completion holds the current output of den completion" {
    local src
    src=$(den_source_dir) || skip "contrib/ not found (set DEN_SRCDIR)"
    local shell file
    for shell in bash zsh fish; do
        case $shell in
            bash) file=den.bash ;;
            zsh) file=_den ;;
            fish) file=den.fish ;;
        esac
        den completion "$shell" >"$WORK/$file"
        if ! diff -u "$src/contrib/completion/$file" "$WORK/$file" >"$WORK/diff"; then
            cat "$WORK/diff" >&2
            fail "contrib/completion/$file is out of date: den completion $shell > contrib/completion/$file"
        fi
    done
}

# ---------------------------------------------------------------------------
# Help, man pages and completions come from one table

@test "every command: --help works, its man page exists and documents every flag" {
    local src
    src=$(den_source_dir) || skip "man/ not found (set DEN_SRCDIR)"
    run_den completion list-commands
    assert_success
    local list=$output n=0 line path page flags flag offered missing=()
    [[ -n $list ]] || fail "no commands listed"
    local -a lines
    mapfile -t lines <<<"$list"
    for line in "${lines[@]}"; do
        path=${line%%$'\t'*}
        page=${line#*$'\t'}
        n=$((n + 1))
        # shellcheck disable=SC2086 # the path is words
        run_den $path --help </dev/null
        if [[ $status -ne 0 || $output != *"Usage:  den $path "* ]]; then
            show_result
            fail "den $path --help"
        fi
        flags=$(printf '%s\n' "$output" | sed -nE 's/^ +(-[[:alnum:]], )?--([[:alnum:]-]+).*/\2/p')
        if [[ ! -f $src/man/$page.1 ]]; then
            missing+=("man/$page.1 (for den $path)")
            continue
        fi
        # The bash completion offers the same flags (zsh's and fish's come
        # from the same lists).
        # shellcheck disable=SC2086
        offered=" $(bash_complete den $path -- | tr '\n' ' ') "
        for flag in $flags; do
            sed 's/\\-/-/g' "$src/man/$page.1" | grep -qF -- "\\fB--$flag\\fR" ||
                missing+=("--$flag in man/$page.1 (den $path)")
            [[ $offered == *" --$flag "* ]] || missing+=("--$flag in the bash completion of den $path")
        done
    done
    ((n > 30)) || fail "only $n command paths listed"
    if ((${#missing[@]})); then
        fail "missing:" "${missing[@]}"
    fi
    # Hidden commands are neither listed nor given a man page.
    [[ $list != *generate-man-pages* && $list != *list-commands* ]] || fail "hidden command listed"
}

@test "man/ is what den generate-man-pages writes" {
    local src
    src=$(den_source_dir) || skip "man/ not found (set DEN_SRCDIR)"
    mkdir -p "$WORK/man"
    run_den generate-man-pages "$WORK/man"
    assert_success
    run diff -r "$src/man" "$WORK/man"
    if [[ $status -ne 0 ]]; then
        printf '%s\n' "$output" | head -n 40 >&2
        fail "man/ is out of date: run 'den generate-man-pages man' with the built den"
    fi
}

# ---------------------------------------------------------------------------
# --format templates from docker's documentation, exactly as docker prints

@test "docker documentation: ps, images and inspect --format" {
    import_busybox bb >/dev/null
    den create --name web -e FOO=bar -l b=2 -l a=1 -l 'c=x y' bb true >/dev/null

    run_den ps -a --filter name=web --format '{{.Names}} {{.Status}}'
    assert_success
    assert_output "web Created"
    run_den ps -a --format '{{.Names}}\t{{.Image}}'
    assert_output "$(printf 'web\tbb')"
    run_den ps -a --format 'table {{.Names}}\t{{.Image}}\t{{.Command}}'
    assert_output "$(printf 'NAMES     IMAGE     COMMAND\nweb       bb        "true"')"
    run_den ps -a --format '{{.ID}}'
    assert_all_lines_match '^[0-9a-f]{12}$'
    run_den ps -a --format '{{json .Names}}'
    assert_output '"web"'
    run_den ps -a --filter label=a=1 --format '{{.Names}} {{.State}}'
    assert_output "web created"
    run_den ps -a --filter label=a=2 --format '{{.Names}}'
    assert_output ""
    # Running containers only by default.
    run_den ps --format '{{.Names}}'
    assert_output ""

    run_den inspect -f '{{.State.Status}} {{.RestartCount}}' web
    assert_output "created 0"
    run_den inspect --format '{{.Name}}' web
    assert_output "/web"
    run_den inspect --format '{{json .Config.Env}}' web
    assert_output '["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin","FOO=bar"]'
    run_den inspect --format '{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}' web
    assert_output "a=1;b=2;c=x y;"
    run_den inspect --format '{{index .Config.Labels "a"}}' web
    assert_output "1"
    run_den inspect --format '{{.Config.Labels.b}} {{len .Config.Labels}}' web
    assert_output "2 3"
    run_den inspect --format '{{json .Config.Labels}}' web
    assert_output '{"a":"1","b":"2","c":"x y"}'
    run_den inspect --format '{{.Config.Labels}}' web
    assert_output "map[a:1 b:2 c:x y]"
    run_den inspect --format '{{.State.Running}} {{.State.Pid}} {{.State.ExitCode}}' web
    assert_output "false 0 0"
    run_den inspect --format '{{if .State.Running}}up{{else}}down{{end}}' web
    assert_output "down"
    run_den inspect --format '{{range .Config.Env}}{{println .}}{{end}}' web
    assert_output "$(printf 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nFOO=bar')"
    run_den inspect --format '{{.Path}} {{json .Args}} {{len .Id}}' web
    assert_output "true [] 64"
    run_den inspect --format '{{upper .Name}} {{join .Config.Cmd ","}} {{printf "%s-%d" .Name 3}}' web
    assert_output "/WEB true /web-3"
    run_den inspect --format '{{.HostConfig.RestartPolicy.Name}}' web
    assert_output "no"

    den tag bb localhost/x/bb:v1
    run_den images --format '{{.Repository}}:{{.Tag}}'
    assert_success
    assert_output "$(printf 'bb:latest\nlocalhost/x/bb:v1')"
    run_den images --format 'table {{.Repository}}\t{{.Tag}}' bb
    assert_output "$(printf 'REPOSITORY   TAG\nbb           latest')"
    run_den images --format '{{.ID}}' bb
    assert_all_lines_match '^[0-9a-f]{12}$'
    run_den image inspect --format '{{.RepoTags}}' bb
    assert_output "[bb:latest localhost/x/bb:v1]"
    run_den image inspect --format '{{index .RepoTags 0}} {{.Os}}/{{.Architecture}}' bb
    assert_output "bb:latest linux/$(oci_arch)"
    run_den image inspect --format '{{.RootFS.Type}} {{len .RootFS.Layers}}' bb
    assert_output "layers 1"
    # Both kinds by name: the container and the image.
    run_den inspect --format '{{.Name}}' web
    assert_output "/web"
    run_den inspect --type image --format '{{index .RepoTags 0}}' bb
    assert_output "bb:latest"
}

# ---------------------------------------------------------------------------
# Environment

@test "DOCKER_HOST: den info says it is ignored; no color codes with NO_COLOR" {
    run_den info --format '{{.Host.DockerHostIgnored}}'
    assert_success
    assert_output "<no value>"

    export DOCKER_HOST=unix:///run/user/1/docker.sock
    run_den info
    assert_success
    assert_line_matches '^  dockerHostIgnored: DOCKER_HOST is set \(unix:///run/user/1/docker.sock\) but den has no daemon; it is ignored$'
    run_den info --format '{{.Host.DockerHostIgnored}}'
    assert_output "DOCKER_HOST is set (unix:///run/user/1/docker.sock) but den has no daemon; it is ignored"
    # The variable changes nothing else: den still works locally.
    run_den ps -a
    assert_success
    unset DOCKER_HOST

    # den never colors its output; with NO_COLOR (or without) there is no
    # escape sequence anywhere, not even in errors.
    import_busybox bb >/dev/null
    local cmd
    for cmd in "info" "ps -a" "images" "version" "--help" "ps --help" "nosuchcmd" "ps --bogus"; do
        # shellcheck disable=SC2086
        run_sh "NO_COLOR=1 '$DEN' $cmd 2>&1"
        [[ $output != *$'\e'* ]] || fail "escape sequence in the output of den $cmd"
        # shellcheck disable=SC2086
        run_sh "'$DEN' $cmd 2>&1"
        [[ $output != *$'\e'* ]] || fail "escape sequence in the output of den $cmd"
    done
}

@test "CONTAINERS_CONF and CONTAINERS_REGISTRIES_CONF" {
    printf '[containers]\nlog_driver = "none"\n' >"$WORK/extra.conf"
    printf 'unqualified-search-registries = ["quay.io", "docker.io"]\n' >"$WORK/registries.conf"
    mkdir -p "$XDG_CONFIG_HOME/den"
    printf '[containers]\nlog_driver = "json-file"\n' >"$XDG_CONFIG_HOME/den/den.conf"

    run_den info --format '{{.Host.LogDriver}} {{json .Registries.Search}}'
    assert_success
    assert_output 'json-file ["docker.io"]'

    run_sh "CONTAINERS_CONF='$WORK/extra.conf' CONTAINERS_REGISTRIES_CONF='$WORK/registries.conf' \
        '$DEN' info --format '{{.Host.LogDriver}} {{json .Registries.Search}}'"
    assert_success
    assert_output 'none ["quay.io","docker.io"]'
    run_sh "CONTAINERS_CONF='$WORK/extra.conf' CONTAINERS_REGISTRIES_CONF='$WORK/registries.conf' \
        '$DEN' info --format '{{json .Store.ConfigFiles}}'"
    assert_output_contains "\"$WORK/extra.conf\""
    assert_output_contains "\"$WORK/registries.conf\""
    assert_output_not_contains "/etc/containers/registries.conf"

    run_sh "CONTAINERS_CONF='$WORK/nope.conf' '$DEN' info"
    assert_den_error "CONTAINERS_CONF: .*nope.conf"
    run_sh "CONTAINERS_REGISTRIES_CONF='$WORK/nope.conf' '$DEN' info"
    assert_den_error "CONTAINERS_REGISTRIES_CONF: .*nope.conf"
}

@test "docker documentation: ps --format with the .Label method" {
    import_busybox bb >/dev/null
    den create --name labelled -l com.example.version=1.0 -l plain=x bb true >/dev/null
    run_den ps -a --format '{{.Names}} {{.Label "com.example.version"}} [{{.Label "missing"}}]'
    assert_success
    assert_output "labelled 1.0 []"
    run_den ps -a --format 'table {{.Names}}\t{{.Label "com.example.version"}}'
    assert_line_matches '^NAMES +version$'
    assert_line_matches '^labelled +1\.0$'
    den rm labelled >/dev/null
}

@test "docker documentation: empty lists, nil slices, maps and pointers in inspect templates" {
    import_busybox bb >/dev/null
    den create --name plain bb true >/dev/null

    # Go prints a nil or empty slice as [], a nil map as map[], a nil pointer
    # as <nil>; {{json}} writes nil as null and empty as [] / {}.
    run_den inspect -f '{{.Mounts}} {{json .Mounts}} {{.Args}} {{json .Args}}' plain
    assert_success
    assert_output '[] [] [] []'
    run_den inspect -f '{{.Config.Entrypoint}} {{json .Config.Entrypoint}} {{.Config.Cmd}} {{json .Config.Cmd}}' plain
    assert_output '[] null [true] ["true"]'
    run_den inspect -f '{{.Config.Volumes}} {{json .Config.Volumes}} {{.Config.OnBuild}} {{json .Config.OnBuild}}' plain
    assert_output 'map[] null [] null'
    run_den inspect -f '{{.HostConfig.Binds}} {{json .HostConfig.Binds}} {{.HostConfig.Links}} {{json .HostConfig.ExtraHosts}}' plain
    assert_output '[] null [] null'
    run_den inspect -f '{{.HostConfig.CapAdd}} {{json .HostConfig.CapDrop}} {{json .HostConfig.SecurityOpt}} {{json .HostConfig.Dns}}' plain
    assert_output '[] null null []'
    run_den inspect -f '{{.HostConfig.PortBindings}} {{json .HostConfig.PortBindings}} {{.HostConfig.Tmpfs}} {{.HostConfig.LogConfig.Config}}' plain
    assert_output 'map[] {} map[] map[]'
    run_den inspect -f '{{.Config.Labels}} {{json .Config.Labels}} {{len .Config.Labels}}' plain
    assert_output 'map[] {} 0'
    run_den inspect -f '{{.State.Health}} {{json .State.Health}} {{.Config.Healthcheck}}' plain
    assert_output '<nil> null <nil>'
    # omitempty pointers and maps are left out of {{json}} and of inspect.
    run_den inspect -f '{{json .State}}' plain
    assert_output '{"Status":"created","Running":false,"Paused":false,"Restarting":false,"OOMKilled":false,"Dead":false,"Pid":0,"ExitCode":0,"Error":"","StartedAt":"0001-01-01T00:00:00Z","FinishedAt":"0001-01-01T00:00:00Z"}'
    run_den inspect plain
    assert_output_contains '"CapAdd": null,'
    assert_output_contains '"Entrypoint": null,'
    assert_output_contains '"Mounts": [],'
    assert_output_not_contains '"Health"'
    assert_output_not_contains '"Tmpfs"'
    # range over nil or empty runs {{else}}; a missing map key is <no value>;
    # a field of a nil pointer is docker's error.
    run_den inspect -f '{{range .Mounts}}{{.Destination}}{{else}}no mounts{{end}} {{range .Config.Entrypoint}}x{{else}}no entrypoint{{end}}' plain
    assert_output 'no mounts no entrypoint'
    run_den inspect -f '{{.Config.Labels.nope}} {{index .Config.Labels "nope"}}|' plain
    assert_output '<no value> |'
    run_den inspect -f '{{.State.Health.Status}}' plain
    assert_den_error 'executing "" at <.State.Health.Status>: nil pointer evaluating \*types.Health.Status'

    # Set values print as before.
    den create --name full -v data:/data --cap-add NET_ADMIN --health-cmd true -l a=1 --entrypoint /bin/sh bb -c true >/dev/null
    run_den inspect -f '{{range .Mounts}}{{.Name}}:{{.Destination}}{{end}} {{.HostConfig.CapAdd}} {{json .Config.Entrypoint}} {{.Config.Labels}} {{.State.Health.Status}}' full
    assert_output 'data:/data [NET_ADMIN] ["/bin/sh"] map[a:1] starting'

    # Images: empty RepoDigests of an imported image, nil Entrypoint and Cmd.
    run_den image inspect -f '{{.RepoTags}} {{json .RepoDigests}} {{.Config.Entrypoint}} {{json .Config.Entrypoint}} {{.Config.Cmd}} {{json .Config.Cmd}}' bb
    assert_output '[bb:latest] [] [] null [] null'
}

@test "docker documentation: volume ls, network ls and stats tables as docker" {
    import_busybox bb >/dev/null
    den volume create --label env=prod myvol >/dev/null
    den network create mynet >/dev/null
    den create --name web bb true >/dev/null

    run_docker volume ls
    assert_success
    assert_output "$(printf 'DRIVER    VOLUME NAME\nlocal     myvol')"
    run_docker volume ls --format "{{.Name}}: {{.Driver}}"
    assert_output "myvol: local"
    run_docker volume ls --format 'table {{.Name}}\t{{.Mountpoint}}' --filter label=env=prod
    assert_output "$(printf 'VOLUME NAME   MOUNTPOINT\nmyvol         %s' "$GRAPHROOT/volumes/myvol/_data")"
    run_docker volume ls -f dangling=true -q
    assert_output "myvol"

    run_docker network ls --format "{{.ID}}: {{.Driver}}" --filter driver=bridge
    assert_line_matches '^[0-9a-f]{12}: bridge$'
    run_docker network ls --filter type=custom --format 'table {{.Name}}\t{{.Driver}}\t{{.Scope}}'
    assert_output "$(printf 'NAME      DRIVER    SCOPE\nmynet     bridge    local')"

    run_docker stats --no-stream -a --format "{{.Name}}: {{.CPUPerc}} {{.MemUsage}} {{.NetIO}} {{.BlockIO}} {{.PIDs}}"
    assert_output "web: 0.00% 0B / 0B 0B / 0B 0B / 0B 0"
    run_docker stats --no-stream -a --format "table {{.Container}}\t{{.CPUPerc}}\t{{.MemUsage}}"
    assert_line_matches '^CONTAINER      CPU %     MEM USAGE / LIMIT$'
    assert_line_matches '^[0-9a-f]{12}   0\.00%     0B / 0B$'
}
