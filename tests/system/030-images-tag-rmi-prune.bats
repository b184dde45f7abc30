#!/usr/bin/env bats
# den images (table, -q, --no-trunc, --digests, --format, filters), den tag,
# den rmi, den image prune.

load helpers

# new_image [REF] [CHANGE...] : imports busybox (changes make distinct IDs),
# prints the ID.
new_image() {
    local ref=${1:-}
    shift || true
    local args=() c
    for c in "$@"; do args+=(-c "$c"); done
    den import "${args[@]}" "$(busybox_tar)" ${ref:+"$ref"}
}

# small_image REF WORD : a tiny single-file image (distinct layer per WORD)
small_image() {
    local t=$WORK/small-$2.tar
    craft_tar "$t" <<EOF
file $2 data=$2
EOF
    den import "$t" ${1:+"$1"}
}

# sorted_json_list JSON : the JSON list sorted, printed by python's json.dumps
sorted_json_list() {
    python3 -c 'import json, sys; print(json.dumps(sorted(json.loads(sys.argv[1]))))' "$1"
}

@test "den images on an empty store prints only the header" {
    run_den images
    assert_success
    assert_line_count 1
    assert_line_matches '^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE$'
    run_den images -q
    assert_success
    assert_output ''
}

@test "den images: docker's columns and values" {
    local id
    id=$(new_image bb)
    run_den images
    assert_success
    assert_line_count 2
    assert_line_matches "^bb +latest +${id:7:12} +(Less than a second|[0-9]+ seconds?|About a minute) ago +[0-9.]+ ?[kMG]?B\$"
    # the columns line up under the header
    local hdr row
    hdr=$(sed -n 1p <<<"$output")
    row=$(sed -n 2p <<<"$output")
    local h r
    for h in TAG 'IMAGE ID' CREATED SIZE; do
        local pre=${hdr%%"$h"*}
        r=${row:${#pre}:1}
        [[ $r != ' ' && -n $r ]] || fail "column $h is not aligned with its header:" "$hdr" "$row"
    done
}

@test "den images lists the newest image first" {
    small_image first a >/dev/null
    sleep 1.1
    small_image second b >/dev/null
    sleep 1.1
    small_image third c >/dev/null
    run_den images --format '{{.Repository}}'
    assert_success
    assert_output 'third
second
first'
    run_den images
    assert_success
    assert_equal "$(awk 'NR > 1 { print $1 }' <<<"$output" | paste -sd' ')" "third second first" "order of den images"
}

@test "den images -q prints short IDs, --no-trunc full IDs" {
    local a b
    a=$(small_image qa a)
    sleep 1.1
    b=$(small_image qb b)
    run_den images -q
    assert_success
    assert_output "${b:7:12}
${a:7:12}"

    run_den images -q --no-trunc
    assert_success
    assert_output "$b
$a"

    run_den images --no-trunc
    assert_success
    assert_line_matches "^qb +latest +$b +"
    assert_line_matches "^qa +latest +$a +"
}

@test "den images --digests adds a DIGEST column" {
    new_image bb >/dev/null
    run_den images --digests
    assert_success
    assert_line_matches '^REPOSITORY +TAG +DIGEST +IMAGE ID +CREATED +SIZE$'
    assert_line_matches '^bb +latest +(<none>|sha256:[0-9a-f]{64}) +[0-9a-f]{12} +'
}

@test "den images --format with docker's placeholders, and table" {
    local id
    id=$(new_image localhost/fmt:1)
    run_den images --format '{{.Repository}}|{{.Tag}}|{{.ID}}'
    assert_success
    assert_output "localhost/fmt|1|${id:7:12}"

    run_den images --format '{{.Size}}|{{.CreatedSince}}'
    assert_success
    assert_line_matches '^[0-9.]+ ?[kMG]?B\|.+ ago$'

    run_den images --format 'table {{.Repository}}\t{{.Tag}}'
    assert_success
    assert_line_count 2
    assert_line_matches '^REPOSITORY +TAG$'
    assert_line_matches '^localhost/fmt +1$'

    run_den images --format '{{json .}}'
    assert_success
    run python3 -c 'import json,sys; j=json.loads(sys.argv[1]); print(j["Repository"], j["Tag"], j["ID"])' "$output"
    assert_success
    assert_output "localhost/fmt 1 ${id:7:12}"
}

@test "den images REPO[:TAG] limits the list" {
    new_image bb >/dev/null
    den tag bb bb:2
    new_image other >/dev/null
    run_den images --format '{{.Repository}}:{{.Tag}}' bb
    assert_success
    assert_equal "$(sort <<<"$output")" "bb:2
bb:latest" "den images bb"

    run_den images --format '{{.Repository}}:{{.Tag}}' bb:2
    assert_success
    assert_output 'bb:2'

    run_den images -q nosuchrepo
    assert_success
    assert_output ''
}

@test "den images -f dangling, reference, label, before, since" {
    local a b c
    a=$(small_image old a)
    sleep 1.1
    b=$(new_image labelled 'LABEL tier=gold')
    sleep 1.1
    c=$(small_image '' c)

    run_den images -q --no-trunc -f dangling=true
    assert_success
    assert_output "$c"

    run_den images --format '{{.Repository}}' -f dangling=false
    assert_success
    assert_output 'labelled
old'

    run_den images --format '{{.Repository}}' -f reference='lab*'
    assert_success
    assert_output 'labelled'

    run_den images --format '{{.Repository}}' --filter label=tier=gold
    assert_success
    assert_output 'labelled'
    run_den images --format '{{.Repository}}' --filter label=tier
    assert_success
    assert_output 'labelled'

    run_den images -q --no-trunc -f before=labelled
    assert_success
    assert_output "$a"

    run_den images -q --no-trunc -f since=labelled
    assert_success
    assert_output "$c"

    run_den images -f bogus=1
    assert_den_error 'bogus'
}

@test "den image ls and den image list are den images" {
    new_image bb >/dev/null
    small_image other o >/dev/null
    run_den images -a --format '{{.Repository}} {{.Tag}} {{.ID}}'
    assert_success
    local want=$output
    run_den image ls -a --format '{{.Repository}} {{.Tag}} {{.ID}}'
    assert_success
    assert_output "$want"
    run_den image list --format '{{.Repository}} {{.Tag}} {{.ID}}'
    assert_success
    assert_output "$want"
}

@test "den tag is silent; both names show the same image" {
    local id
    id=$(new_image bb)
    run_den tag bb bb:2
    assert_success
    assert_output ''
    assert_stderr_empty

    run_den images --format '{{.Repository}}:{{.Tag}} {{.ID}}'
    assert_success
    assert_equal "$(sort <<<"$output")" "bb:2 ${id:7:12}
bb:latest ${id:7:12}" "den images after tag"

    run_den image inspect --format '{{json .RepoTags}}' "$id"
    assert_success
    assert_equal "$(sorted_json_list "$output")" '["bb:2", "bb:latest"]' "RepoTags (in any order)"
}

@test "den tag accepts full IDs, sha256:IDs, unique prefixes; den image tag" {
    local id
    id=$(new_image)
    run_den tag "$id" byfull
    assert_success
    run_den tag "${id#sha256:}" byhex
    assert_success
    run_den tag "${id:7:12}" byshort
    assert_success
    run_den tag "${id:7:5}" byprefix
    assert_success
    run_den image tag byprefix localhost/viaimage:tag
    assert_success
    run_den image inspect --format '{{json .RepoTags}}' "$id"
    assert_success
    assert_equal "$(sorted_json_list "$output")" '["byfull:latest", "byhex:latest", "byprefix:latest", "byshort:latest", "localhost/viaimage:tag"]' "RepoTags (in any order)"
}

@test "den tag moves a name from one image to another" {
    local a b
    a=$(small_image a a)
    b=$(small_image b b)
    den tag a shared:1
    run_den tag b shared:1
    assert_success
    run_den image inspect --format '{{.Id}}' shared:1
    assert_output "$b"
    run_den image inspect --format '{{json .RepoTags}}' "$a"
    assert_success
    assert_output '["a:latest"]'
}

@test "den rmi NAME of an image with two names only untags" {
    local id
    id=$(new_image bb)
    den tag bb bb:2
    run_den rmi bb:2
    assert_success
    assert_output 'Untagged: bb:2'
    run_den image inspect --format '{{.Id}} {{json .RepoTags}}' bb
    assert_success
    assert_output "$id [\"bb:latest\"]"
}

@test "den rmi of the last name deletes the image and its layer" {
    local id
    id=$(new_image bb)
    run_den rmi bb
    assert_success
    # docker may add "Deleted: sha256:<layer>" lines after the image's
    [[ $(head -n2 <<<"$output") == "Untagged: bb:latest
Deleted: $id" ]] || { show_result; fail "expected 'Untagged: bb:latest' then 'Deleted: $id'"; }
    assert_all_lines_match '^(Untagged|Deleted): '
    run_den images -q
    assert_output ''
    run store_find busybox
    assert_output ''
    run_den image inspect "$id"
    assert_den_error 'no such image'
}

@test "den rmi by ID of an image with several names needs -f" {
    local id
    id=$(new_image bb)
    den tag bb localhost/bb:2
    local before
    before=$(store_snapshot)

    run_den rmi "${id:7:12}"
    assert_den_error 'force|-f'
    assert_equal "$(store_snapshot)" "$before" "den images after the refused rmi"

    run_den rmi -f "${id:7:12}"
    assert_success
    assert_equal "$(head -n3 <<<"$output" | sort)" "$(printf '%s\n' "Deleted: $id" 'Untagged: bb:latest' 'Untagged: localhost/bb:2' | sort)" "rmi -f output"
    assert_all_lines_match '^(Untagged|Deleted): '
    # Untagged lines come before Deleted
    [[ $(sed -n 3p <<<"$output") == "Deleted: $id" ]] || fail "'Deleted: $id' is not the third line" "$output"
    run_den images -q
    assert_output ''
}

@test "den rmi of an untagged image by ID; several images at once; den image rm" {
    local a b c
    a=$(small_image '' a)
    b=$(small_image bee b)
    c=$(small_image sea c)
    run_den rmi "$a"
    assert_success
    assert_all_lines_match '^Deleted: '
    [[ $(head -n1 <<<"$output") == "Deleted: $a" ]] || { show_result; fail "expected 'Deleted: $a' first"; }

    run_den rmi bee sea
    assert_success
    assert_all_lines_match '^(Untagged|Deleted): '
    assert_line_matches '^Untagged: bee:latest$'
    assert_line_matches "^Deleted: $b\$"
    assert_line_matches '^Untagged: sea:latest$'
    assert_line_matches "^Deleted: $c\$"
    [[ $(grep -n "^Deleted: $b" <<<"$output" | cut -d: -f1) -lt $(grep -n '^Untagged: sea' <<<"$output" | cut -d: -f1) ]] ||
        fail "images are not removed in argument order" "$output"
    run_den images -q
    assert_output ''

    small_image dee d >/dev/null
    run_den image rm dee
    assert_success
    assert_line_matches '^Untagged: dee:latest$'
    assert_line_matches '^Deleted: sha256:[0-9a-f]{64}$'
}

@test "layers shared by two images survive removing one of them" {
    local a b
    a=$(new_image first)
    sleep 1.1
    b=$(new_image second 'CMD ["/bin/true"]')
    [[ $a != "$b" ]] || fail "expected two images"
    run_den image inspect --format '{{json .RootFS.Layers}}' first
    local la=$output
    run_den image inspect --format '{{json .RootFS.Layers}}' second
    assert_equal "$output" "$la" "layers of the two images"

    run_den rmi first
    assert_success
    run store_find busybox
    [[ -n $output ]] || fail "the shared layer was deleted with the first image"
    run_den save -o "$WORK/second.tar" second
    assert_success

    run_den rmi second
    assert_success
    run store_find busybox
    assert_output ''
}

@test "den image prune --force removes dangling images only" {
    local keep gone
    keep=$(small_image keep k)
    gone=$(small_image '' g)
    run_den image prune --force
    assert_success
    assert_line_matches '^Deleted Images:$'
    assert_line_matches "^[Dd]eleted: $gone\$"
    assert_line_matches '^Total reclaimed space: [0-9.]+ ?[kMG]?B$'
    assert_output_not_contains "$keep"
    run_den images -q --no-trunc
    assert_output "$keep"
}

@test "den image prune -a --force removes all unused images" {
    local a b
    a=$(small_image one 1)
    b=$(small_image '' 2)
    run_den image prune -a --force
    assert_success
    assert_line_matches '^Deleted Images:$'
    assert_line_matches '^[Uu]ntagged: one:latest$'
    assert_line_matches "^[Dd]eleted: $a\$"
    assert_line_matches "^[Dd]eleted: $b\$"
    assert_line_matches '^Total reclaimed space: '
    run_den images -q
    assert_output ''
}

@test "den image prune -f and -a -f: -f is --force, as in docker" {
    local gone
    gone=$(small_image '' g)
    run_den image prune -f
    assert_success
    assert_line_matches "^[Dd]eleted: $gone\$"
    small_image one 1 >/dev/null
    run_den image prune -a -f
    assert_success
    assert_line_matches '^[Uu]ntagged: one:latest$'
    run_den images -q
    assert_output ''
}

@test "den image prune with nothing to prune" {
    small_image keep k >/dev/null
    run_den image prune --force
    assert_success
    assert_no_line_matches '^[Dd]eleted: '
    assert_line_matches '^Total reclaimed space: 0 ?B$'
}

@test "den image prune without -f and without a yes on stdin deletes nothing" {
    local gone
    gone=$(small_image '' g)
    run_den image prune </dev/null
    run_den images -q --no-trunc
    assert_success
    assert_output "$gone"
}

@test "den image prune keeps a layer still used by a tagged image" {
    local a b
    a=$(new_image)
    sleep 1.1
    b=$(new_image tagged 'CMD ["/bin/true"]')
    run_den image prune --force
    assert_success
    assert_line_matches "^[Dd]eleted: $a\$"
    run store_find busybox
    [[ -n $output ]] || fail "prune deleted the layer of the tagged image"
    run_den save -o "$WORK/t.tar" tagged
    assert_success
}

@test "den history: docker's columns, one row per layer, --no-trunc, -q, -H=false" {
    import_busybox hist >/dev/null
    local id
    id=$(image_id hist)
    run_den history hist
    assert_success
    assert_line_matches '^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$'
    assert_line_matches "^${id:7:12} +[A-Za-z0-9 ]+ ago +den import +[0-9.]+[kM]B"
    run_den image history -q hist
    assert_output "${id:7:12}"
    run_den history --no-trunc --format '{{.ID}}' hist
    assert_output "$id"
    run_den history -H=false --format '{{.CreatedAt}} {{.Size}}' hist
    assert_line_matches '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z [0-9]+$'
    run_den history nosuchimage
    assert_den_error "nosuchimage"
}
