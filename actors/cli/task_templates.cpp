// The commented templates `joconde task init` and `joconde ctsa init` write (docs/task-files.md).
// The task template is config/examples/task.toml, the readable twin of config/examples/task.json;
// a test checks that both compile and that they make the same CTSC.

#include "cli/task_file.hpp"

namespace joconde::cli {

std::string task_template() {
  return R"toml(# A joconde Computation Task in the readable form (docs/task-files.md has every field).
# Check it with `joconde sql check FILE`, see the CTSC it becomes with `joconde task show FILE`,
# and submit it with `joconde cta create FILE`. Lines starting with # are comments.

title = "Turnover by region, two statistical offices"
description = """
Average and total turnover per NUTS-1 region over the enterprises both offices hold, without
either office seeing the other's records."""

# The Computing Parties' Service Nodes, in MPC party order (at least three, independent).
computing_parties = ["cp1.joconde.test", "cp2.joconde.test", "cp3.joconde.test"]

# Short names for the peers' Service Nodes. A peer's role follows from the inputs it provides and
# the outputs it reads; inputs and outputs may also name a peer by its FQDN directly.
[peers]
a = "client-a.joconde.test"
b = "client-b.joconde.test"

# Deadlines: a date (2031-01-31, at 00:00 UTC), a date-time with its zone
# (2031-01-31T17:00:00+01:00) or an ISO 8601 duration after the previous deadline ("P7D",
# "PT36H"; the approval deadline's counts from when the file is read). They must increase.
[deadlines]
approval = "P14D"    # every CTSA signed and approved by then
input = "P7D"        # every input uploaded (and its checks passed) by then
execution = "P1D"    # the computation finished by then
output = "P30D"      # outputs not downloaded by then are erased
retention = "P30D"   # then every node keeps the task's records this long before erasing them

# The MPC engine. rss3: three-party replicated secret sharing over the 64-bit ring.
[engine]
name = "rss3"
version = "1.0.0"
parameters = { ring_bits = 64 }

# Accepted CT VM measurements. Leave [[tee]] out and `cta create` puts in the one of your node's
# CT VM image (simulated on machines without TEE hardware, and said so).
# [[tee]]
# platform = "sev-snp"
# image = "joconde-vm 0.1.0"
# measurement = "HEX"

# One [[input]] per data slot: the peer whose Data Custodians upload it, its schema as one SQL
# statement (the table's name is the input's key) and optionally its data-quality check.
# Column types: KEY (an identifier, to join or match rows), INTEGER, DECIMAL(p, s) (p digits,
# s after the point), BOOLEAN, CATEGORY ('a', 'b', ...). Constraints: RANGE [min, max] (INTEGER
# and DECIMAL; otherwise a DECIMAL's p digits bound it), UNIQUE and NULL (may be missing).
[[input]]
peer = "a"
max_rows = 100000
table = """
CREATE TABLE a_enterprises (
  region   CATEGORY ('north', 'south', 'east', 'west'),
  turnover DECIMAL(12, 2) RANGE [0, 1000000000.00]
)"""

[[input]]
peer = "b"
max_rows = 100000
table = """
CREATE TABLE b_enterprises (
  region   CATEGORY ('north', 'south', 'east', 'west'),
  turnover DECIMAL(12, 2) RANGE [0, 1000000000.00]
)"""
# check = """
# CHECK COUNT(*) >= 10;
# CHECK turnover > 0;
# """

# One [[output]] per result table: the peers whose Data Analysts may download it, and its schema.
[[output]]
readers = ["a", "b"]
table = """
CREATE TABLE turnover_by_region (
  region        CATEGORY ('north', 'south', 'east', 'west'),
  enterprises   INTEGER,
  turnover      DECIMAL(18, 2),
  mean_turnover DECIMAL(18, 2)
)"""

# The main algorithm in joconde-sql/1 (docs/task-language.md). Regions with fewer than 10
# enterprises stay in the output, flagged C (confidential), their values withheld.
[algorithm]
source = """
INSERT INTO turnover_by_region
SELECT region, COUNT(*) AS enterprises, SUM(turnover) AS turnover, AVG(turnover) AS mean_turnover
FROM a_enterprises UNION ALL b_enterprises
GROUP BY region
HAVING COUNT(*) >= 10;
"""

# Files attached to the agreement (legal texts, documentation), read relative to this file.
# [[attachment]]
# title = "Agreement between the offices"
# description = "The signed legal basis of the joint statistics"
# file = "agreement.pdf"
)toml";
}

std::string ctsa_template() {
  return R"toml(# This peer's Computation Task Specification Addendum (CTSA) in the readable form
# (docs/task-files.md). Submit it with `joconde ctsa submit UUID FILE`; its signatories then sign
# it with `joconde cta sign UUID --signatory N --document FILE`, N counted from 0 in the order below.

# Who signs the agreement for this organisation, as the SO's member information names them.
[[signatory]]
name = "Director of the office"
# identification = "director-id.pdf"   # an ID scan or certificate, if the SO's policy wants one

# The Data Custodians (who upload inputs) and Data Analysts (who download outputs). Leave these
# sections out and the node lists every PAK registered for the CTA at this node (joconde pak
# create). To choose, give each person's public key as a PEM file
# (openssl pkey -in KEY_FILE -pubout > person.pub) and the inputs or outputs they may use.
# [[data_custodian]]
# name = "Custodian A"
# pak = "custodian-a.pub"
# inputs = ["a_enterprises"]
#
# [[data_analyst]]
# name = "Analyst A"
# pak = "analyst-a.pub"
# outputs = ["turnover_by_region"]
)toml";
}

} // namespace joconde::cli
