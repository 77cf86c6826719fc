// The table of the `joconde` client's commands (cli_command.hpp): each command once, with its
// arguments, options, texts and handler. Below it the handlers of the commands that belong to no
// family: whoami, status and sql check.

#include "cli/cli_command.hpp"
#include "cli/cli_render.hpp"
#include "cli/cli_task.hpp"

#include <nlohmann/json.hpp>

#include <ostream>

namespace joconde::cli {

// Long because it is the table: an entry per command, its help text the bulk of it.
const std::vector<command>& commands() {
  static const std::vector<command> table{
    {.name = "whoami",
     .summary = "who the token belongs to: USER at NODE (roles: ...)",
     .help = R"(Prints who the token belongs to, at which node, with which roles
(GET /v1/whoami, any user):
  USER at NODE (roles: a, b)
)",
     .handler = run_whoami},
    {.name = "cta create", .synopsis = "TASK_FILE",
     .summary = "submit the CTA task in TASK_FILE (readable or JSON); prints the new\n"
                "CTA's UUID alone",
     .help = R"(Submits the CTA task in TASK_FILE to the node (POST /v1/ctas), which
creates the CTA and its CTSC and waits for the root's answer. The task's algorithm is
compiled here first (as `joconde sql check` does) and its disclosures are written into
the CTSC; an algorithm that does not compile is refused with exit code 6 before anything
is sent. A task without "tee_measurements" gets the measurement of the node's CT VM
image (GET /v1/tee: the simulated joconde-vm image) and says so on stderr:
  tee_measurements: simulated joconde-vm measurement HEX from NODE
Prints the new CTA's UUID alone, so that
  uuid=$(joconde cta create task.json)
works. TASK_FILE is the readable form (docs/task-files.md; `task init` writes a template),
whose deadlines are said on stderr as UTC times, or the CTSC's Protobuf JSON. A missing or
unreadable file, or one with an error (FILE:LINE:COLUMN), is refused with exit code 2
before anything is sent. The default --timeout, 30 seconds, leaves the root time to answer.
)",
     .arguments = {"TASK_FILE"}, .handler = run_cta_create},
    {.name = "cta list",
     .summary = "the CTAs this node knows: UUID STATUS UPDATES TITLE",
     .help = R"(Lists the CTAs this node knows (GET /v1/ctas) as an aligned table:
UUID STATUS UPDATES TITLE.
)",
     .handler = run_cta_list},
    {.name = "cta show", .synopsis = "UUID",
     .summary = "one CTA: key fields first, then every other field",
     .help = R"(Shows one CTA (GET /v1/ctas/UUID): uuid, title, status, ctsc_sha256, updates and the
time of the last change (UTC, ISO-8601); then, if any other member of the CTA was not
confirmed out of band at this node, a warning naming each with the fingerprint to compare
and the commands that confirm or override it; then every other field of the document with
keys sorted and nested values indented. The same document always prints the same bytes.
)",
     .arguments = {"UUID"}, .handler = run_cta_show},
    {.name = "cta watch", .synopsis = "UUID [--until finished|cancelled|erased]",
     .summary = "follow a CT: its status, its CT VMs' addresses and every event of its\n"
                "CT VMs, until it ends (or reaches the status given)",
     .help = R"(Follows the CT of the CTA UUID: asks the node every 0.5 s (GET /v1/ctas/UUID) and prints the
CTA's status when it changes, the addresses of each CP's CT VM once, and each new event of
the CT VMs as a line
  HH:MM:SS.mmm CP KIND SUBJECT VALUE     (UTC; e.g. 12:00:01.250 cp1 phase input)
until the CTA is finished, cancelled or erased, or with --until until it has that status.
--timeout bounds the whole watch (default: no limit). With --json it prints nothing while it
watches and the node's last document at the end. Exit codes: 0 the awaited status was
reached, 8 the time limit passed first, 9 the CTA ended otherwise (e.g. cancelled when
--until finished), and those of any other command when the node cannot be asked.
)",
     .arguments = {"UUID"}, .options = {"until"}, .handler = run_cta_watch},
    {.name = "ctsa submit", .synopsis = "UUID CTSA_FILE",
     .summary = "submit this peer's CTSA (readable or JSON) for the CTA; prints its\n"
                "ctsa_sha256 alone",
     .help = R"(Submits this peer's CTSA in CTSA_FILE for the CTA UUID (POST /v1/ctas/UUID/ctsa); the node
signs it and sends it to the root. CTSA_FILE is the readable form (docs/task-files.md;
`ctsa init` writes a template) or a JSON object. Prints the CTSA's ctsa_sha256 alone, the
hash the peer's signatories sign, so that
  sha=$(joconde ctsa submit "$uuid" ctsa.toml)
works. A missing or unreadable file, or one with an error (FILE:LINE:COLUMN), is refused
with exit code 2 before anything is sent.
)",
     .arguments = {"UUID", "CTSA_FILE"}, .handler = run_ctsa_submit},
    {.name = "cta sign", .synopsis = "UUID --signatory N --document FILE [--media-type TYPE]",
     .summary = "sign this peer's CTSA as its signatory N with FILE (at most 10 MiB)",
     .help = R"(Signs this peer's CTSA for the CTA UUID as its signatory N, the signatory's index (0, 1,
...) in the CTSA's list of signatories (POST /v1/ctas/UUID/signatures). FILE, the signed
document (e.g. an ASiC-E container or a PDF), is sent with its base name, its media type
and its bytes in base64; it may hold at most 10 MiB. Without --media-type the type follows
from the extension: .pdf application/pdf, .asice/.sce application/vnd.etsi.asic-e+zip,
.png image/png, .jpg/.jpeg image/jpeg, .txt text/plain, else application/octet-stream.
Prints
  signatory N of PEER signed CTSA SHA256
A bad N or a missing, unreadable or too large FILE is refused with exit code 2 before
anything is sent.
)",
     .arguments = {"UUID"},
     .options = {"signatory", "document", "media-type"},
     .handler = run_cta_sign},
    {.name = "cta approve", .synopsis = "UUID --peer NAME",
     .summary = "the SO approves the peer's CTSA (at the root)",
     .help = R"(Records the SO's approval of peer NAME's CTSA for the CTA UUID (POST
/v1/ctas/UUID/decisions, at the root: e.g. --as root:approver). NAME is passed as given;
the node resolves short names like client-a. Prints the peer and the CTA's status after the
decision:
  PEER: approved; CTA STATUS
)",
     .arguments = {"UUID"}, .options = {"peer"}, .handler = run_cta_approve},
    {.name = "cta reject", .synopsis = "UUID --peer NAME --reason TEXT",
     .summary = "the SO rejects the peer's CTSA, saying what the peer must fix",
     .help = R"(Records the SO's rejection of peer NAME's CTSA for the CTA UUID (POST
/v1/ctas/UUID/decisions, at the root: e.g. --as root:approver); the peer then submits a new
version. TEXT says what the peer must fix: it is required and may not be blank. NAME is
passed as given; the node resolves short names like client-a. Prints
  PEER: rejected; CTA STATUS
)",
     .arguments = {"UUID"}, .options = {"peer", "reason"}, .handler = run_cta_reject},
    {.name = "cta cancel", .synopsis = "UUID --reason TEXT",
     .summary = "cancel the CTA: a peer's Task Organiser, or the SO at the root",
     .help = R"(Cancels the CTA UUID (POST /v1/ctas/UUID/cancel): at a peer's node as its Task Organiser
(the request goes to the root), or at the root as the System Operator (--as root:approver).
Every node that holds the CTA learns it. TEXT says why: it is required and may not be
blank. Prints
  CTA UUID: cancelled
)",
     .arguments = {"UUID"}, .options = {"reason"}, .handler = run_cta_cancel},
    {.name = "cta override", .synopsis = "UUID --member NAME --reason TEXT",
     .summary = "an IT administrator lets this node commit to the CTA although member\n"
                "NAME's fingerprint was not confirmed out of band here (audited)",
     .help = R"(Records, as an IT administrator of this node (role it_admin), that this node may commit to
the CTA UUID although member NAME's certificate fingerprint was not confirmed out of band
here (POST /v1/ctas/UUID/overrides; SYS-2.1). Only a member that is unconfirmed can be
overridden, once per CTA; TEXT says why the risk is accepted: it is required and may not
be blank. The node stores the override, writes it to its audit log and shows it in
`cta show`; its Task Organiser can then submit the CTSA. NAME is passed as given; the node
resolves short names like cp3. Prints
  override: MEMBER (fingerprint FP) accepted unconfirmed for CTA UUID by USER
Comparing the fingerprint with the member's operator and `joconde-node trust confirm` is
the better way.
)",
     .arguments = {"UUID"}, .options = {"member", "reason"}, .handler = run_cta_override},
    {.name = "pak create",
     .synopsis = "UUID (--input KEY | --output KEY) --name NAME --out KEY_FILE "
                 "--passphrase-file FILE",
     .summary = "a data custodian (input) or analyst (output) makes their key pair for\n"
                "the CTA: the private key goes to KEY_FILE, encrypted; the PAK (public\n"
                "key) is registered at their node; prints its SHA-256",
     .help = R"(Run by a data custodian (--input KEY) or data analyst (--output KEY) of a peer: makes a
new EC P-256 key pair on this machine, writes the private key to KEY_FILE (PKCS#8 PEM,
encrypted with the first line of the passphrase file, mode 0600; an existing file is never
overwritten) and registers the public key, the PAK, for the CTA UUID at the person's node
(POST /v1/ctas/UUID/paks). A PAK is bound to that one CTA: the peer's CTSA may name it for
that CTA only. Prints the PAK's SHA-256. The private key never leaves this machine.
)",
     .arguments = {"UUID"},
     .options = {"input", "output", "name", "out", "passphrase-file"},
     .handler = run_pak_create},
    {.name = "upload", .synopsis = "UUID INPUT FILE.csv --key KEY_FILE --passphrase-file FILE",
     .summary = "a data custodian uploads FILE.csv into input INPUT of the running CT:\n"
                "the node checks it against the schema (line and column of any error),\n"
                "attests every CT VM, secret-shares it and sends each VM its shares",
     .help = R"(A Data Custodian uploads FILE.csv into input INPUT of the running CT UUID (POST
/v1/ctas/UUID/inputs/INPUT). This machine signs a single-use authorization with the PAK in
KEY_FILE (opened with the first line of the pass phrase file; the key never leaves it). The
node checks the file against the input's schema before anything leaves it (an error names
the line and column), attests every CT VM (fresh nonce, the CTSC's measurement, the CT and
CP ids bound into the evidence), secret-shares each column and sends every VM its shares.
The slot is ready when it is ready at every CP; the latest upload wins until the input
phase ends. Prints the rows uploaded, the CT's phase and how long each step took.
The default --timeout is 600 seconds.
)",
     .arguments = {"UUID", "INPUT", "FILE.csv"},
     .options = {"key", "passphrase-file"},
     .handler = run_upload},
    {.name = "download",
     .synopsis = "UUID OUTPUT --key KEY_FILE --passphrase-file FILE [-o "
                 "FILE.csv]",
     .summary = "a data analyst retrieves output OUTPUT once: each CT VM releases its\n"
                "shares once, the node rebuilds the table; written to FILE.csv or stdout",
     .help = R"(A Data Analyst retrieves output OUTPUT of the CT UUID (POST /v1/ctas/UUID/outputs/OUTPUT),
authorized by the PAK in KEY_FILE, for the peer whose CTSA lists them. Every CT VM releases
its shares once to each peer the output is named for (a second download for the same peer,
by any of its analysts, is refused: already_exists); the node attests each VM, rebuilds the
table, checks that the VMs' shares agree and drops the rows the algorithm suppressed. The CSV
goes to FILE.csv (never overwritten) or to standard output. The default --timeout is 600
seconds.
)",
     .arguments = {"UUID", "OUTPUT"},
     .options = {"key", "passphrase-file", "out"},
     .handler = run_download},
    {.name = "sql check", .synopsis = "TASK_FILE",
     .summary = "compile the task's algorithm here, without a node: errors with\n"
                "line:column, or the features it uses and what it discloses",
     .help = R"(Compiles the main algorithm and the data-quality checks of the CTA task in TASK_FILE (the
file `cta create` takes: readable or JSON, docs/task-files.md) against its schemas, for its
engine, on this machine: no node is asked. Prints the errors with line:column (in the
file's own lines for the readable form; exit code 6), or the language features the
algorithm uses and what it discloses beyond its outputs, the statements `cta create` puts
into the CTSC for the peers to read before they sign (docs/task-language.md). An error in
the file itself (a field, a deadline, a CREATE TABLE) has exit code 2.
)",
     .arguments = {"TASK_FILE"}, .handler = run_sql_check},
    {.name = "task init", .synopsis = "FILE",
     .summary = "write a commented template of a readable task file to FILE (new)",
     .help = R"(Writes a commented template of a task in the readable form (docs/task-files.md) to FILE,
which must not exist: two statistical offices, turnover by region. It compiles as it is
(joconde sql check FILE); edit its names, deadlines, schemas and SQL.
)",
     .arguments = {"FILE"}, .handler = run_task_init},
    {.name = "task show", .synopsis = "TASK_FILE",
     .summary = "print the CTSC a task file becomes (JSON), without a node",
     .help = R"(Reads TASK_FILE (readable or JSON), compiles its algorithm and prints the CTSC draft that
`cta create` would send, indented, with the disclosures filled in and a readable file's
dates and durations as absolute times (milliseconds since the epoch; durations count from
now). No node is asked. The errors and exit codes of `sql check`.
)",
     .arguments = {"TASK_FILE"}, .handler = run_task_show},
    {.name = "ctsa init", .synopsis = "FILE",
     .summary = "write a commented template of a readable CTSA file to FILE (new)",
     .help = R"(Writes a commented template of this peer's CTSA in the readable form (docs/task-files.md)
to FILE, which must not exist: its signatories, and optionally the data custodians and
analysts by their PAKs. `ctsa submit UUID FILE` takes it.
)",
     .arguments = {"FILE"}, .handler = run_ctsa_init},
    {.name = "node revoke", .synopsis = "--reason TEXT",
     .summary = "revoke this node's own certificate because its key may have leaked\n"
                "(a General Manager or IT administrator; spec §4.4.2.3)",
     .help = R"(Has the node revoke its own certificate, signed with its own key (POST /v1/revocations
with the reason; roles general_manager, it_admin): for a node whose private key may have
leaked. The revocation spreads through the whole tree; every CTA that names this node is
cancelled, every link to it is dropped, and its key can never be registered again. The node
must then be enrolled anew by hand (a new key, `joconde-node init`, its parent's `enrol`,
`install`). The root's certificate cannot be revoked this way. TEXT says why: it is required
and may not be blank. Prints
  revoked: FINGERPRINT
)",
     .options = {"reason"}, .handler = run_node_revoke},
    {.name = "status",
     .summary = "the node's status document (roles it_admin, auditor)",
     .help = R"(Prints the node's status document, indented (GET /v1/status; roles it_admin,
auditor).
)",
     .handler = run_status},
  };
  return table;
}

// -- commands of no family --

int run_whoami(const invocation& in) {
  return send(in, call{"GET", "/v1/whoami", {}, render_whoami});
}

/// The call of `node revoke`.
result<call> node_revoke_call(const invocation& in) {
  if (blank(in.opts.reason))
    return usage_error("node revoke", "node revoke needs --reason TEXT saying why");
  auto body = request_body(nlohmann::json{{"reason", in.opts.reason}});
  if (!body)
    return std::move(body).err();
  return call{"POST", "/v1/revocations", std::move(*body), [](const nlohmann::json& doc) -> result<std::string> {
                if (!doc.is_object() || !doc.contains("revoked") || !doc["revoked"].is_string())
                  return fail(errc::malformed_input, "the node's answer has no \"revoked\"");
                return "revoked: " + printable(doc["revoked"].get<std::string>()) + "\n";
              }};
}

int run_node_revoke(const invocation& in) {
  return send(in, node_revoke_call(in));
}

int run_status(const invocation& in) {
  return send(in, call{"GET", "/v1/status", {}, [](const nlohmann::json& doc) -> result<std::string> {
                         return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace)
                                + "\n";
                       }});
}

/// `joconde sql check TASK_FILE`: compiles here; no node is asked.
int run_sql_check(const invocation& in) {
  auto task = read_task_file(in.args[0], now_ms());
  if (!task) {
    in.err << "joconde: " << task.err().describe() << "\n";
    return exit_usage;
  }
  auto check = check_task(*task);
  if (!check) {
    in.err << "joconde: " << check.err().describe() << "\n";
    return exit_invalid;
  }
  if (in.opts.json) {
    nlohmann::json doc{{"engine", check->engine},
                       {"features", check->features},
                       {"disclosures", check->disclosures},
                       {"approximate", check->approximate}};
    in.out << compact_json(doc) << "\n";
    return exit_ok;
  }
  in.out << "compiles for " << check->engine << "\nfeatures:";
  for (const auto& f : check->features)
    in.out << " " << f;
  if (!check->approximate.empty()) {
    in.out << "\napproximate (a fixed-point value within its bound, then rounded; docs/task-language.md §3.1):";
    for (const auto& c : check->approximate)
      in.out << " " << c;
  }
  in.out << "\ndiscloses, beyond its outputs:\n";
  for (const auto& d : check->disclosures)
    in.out << "  - " << d << "\n";
  if (task->readable)
    in.out << "reads as a CTSC of " << task->readable->ctsc.inputs_size() << " input(s), "
           << task->readable->ctsc.outputs_size() << " output(s) and " << task->readable->ctsc.peers_size()
           << " peer(s): joconde task show " << printable(in.args[0]) << " prints it\n";
  return exit_ok;
}

/// `joconde task show TASK_FILE`: the CTSC the file becomes, disclosures filled in; no node is asked.
int run_task_show(const invocation& in) {
  auto task = read_task_file(in.args[0], now_ms());
  if (!task)
    return refuse(in, task.err());
  auto body = with_disclosures(*task);
  if (!body)
    return refuse(in, body.err());
  in.out << indented_ctsc(*body);
  return exit_ok;
}

/// `joconde task init FILE` and `joconde ctsa init FILE`: a commented template in a new file.
int write_template(const invocation& in, const std::string& text, std::string_view next) {
  if (auto r = write_new_file(in.args[0], text); !r)
    return refuse(in, r.err());
  in.err << "joconde: wrote " << printable(in.args[0]) << "; edit it, then " << next << " "
         << printable(in.args[0]) << "\n";
  return exit_ok;
}

int run_task_init(const invocation& in) {
  return write_template(in, task_template(), "joconde sql check");
}

int run_ctsa_init(const invocation& in) {
  return write_template(in, ctsa_template(), "joconde ctsa submit UUID");
}

} // namespace joconde::cli
