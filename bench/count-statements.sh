#!/bin/bash
# Statements per complete payment on PostgreSQL and MariaDB, counted by the database servers
# themselves: statement logging is switched on (PostgreSQL: log_statement=all through ALTER
# SYSTEM; MariaDB: the general log) for a quick benchmark run at 8 clients, then off again.
# A payment's statements are those between two consecutive payments' evidence writes.
# Needs superuser rights on both servers (as on the development machine) and
# POSTGRES_URL/MARIADB_URL set; PostgreSQL's log file is PG_LOG (Debian's default below).
set -euo pipefail
cd "$(dirname "$0")/.."
PG_LOG=${PG_LOG:-$(ls /var/log/postgresql/postgresql-*-main.log | head -1)}
MARIA_LOG=$(mktemp /tmp/coconutpay-general-XXXX.log)
chmod 666 "$MARIA_LOG"
start=$(wc -l < "$PG_LOG")
mysql -uroot -h127.0.0.1 -e "SET GLOBAL general_log_file='$MARIA_LOG'; SET GLOBAL general_log=1;"
psql "$POSTGRES_URL" -qc "ALTER SYSTEM SET log_statement='all'" -c "select pg_reload_conf()" > /dev/null
trap 'mysql -uroot -h127.0.0.1 -e "SET GLOBAL general_log=0"; psql "$POSTGRES_URL" -qc "ALTER SYSTEM RESET log_statement" -c "select pg_reload_conf()" > /dev/null' EXIT
npm run --silent bench -- --quick --engines=postgres,mysql --no-ceilings --only=payments --concurrency=8 > /dev/null
PG_WINDOW=$(mktemp); tail -n +"$start" "$PG_LOG" > "$PG_WINDOW"
python3 - "$PG_WINDOW" "$MARIA_LOG" <<'PY'
import collections, re, sys
# Other work may share the servers (tests on other databases): only the benchmark's database
# counts, known as the one whose connections wrote the evidence.
def report(label, records):
    by_db = collections.Counter(db for db, text in records if is_evidence(text))
    if not by_db:
        print(f'{label}: no payments in the log'); return
    db = by_db.most_common(1)[0][0]
    texts = [text for d, text in records if d == db]
    marks = [i for i, t in enumerate(texts) if is_evidence(t)]
    window = texts[marks[0] + 1:marks[-1] + 1]
    n = len(marks) - 1
    print(f'{label}: {len(window) / n:.1f} statements per payment ({n} payments)')
    for text, count in collections.Counter(t[:100] for t in window).most_common(30):
        print(f'  {count / n:5.2f}  {text}')
def is_evidence(text):
    return re.search(r'insert into ["`]payment_evidence["`]', text) is not None
# PostgreSQL: "… [pid] user@database LOG:  statement: …" or "execute <name>: …".
pg = []
for line in open(sys.argv[1], errors='replace'):
    m = re.search(r'\] \S+@(\S+) LOG:  (?:statement|execute [^:]*): (.*)', line)
    if m: pg.append((m.group(1), m.group(2)))
report('PostgreSQL', pg)
# MariaDB's general log: "[time] <thread> <command>\t<argument>", a multi-statement query
# going on over the next lines; a thread's database is named where it connects.
maria, thread_db, last = [], {}, None
for line in open(sys.argv[2], errors='replace'):
    m = re.match(r'^(?:\d{6}\s+\d+:\d+:\d+)?\s+(\d+) (\w+)\t(.*)', line)
    if m:
        thread, command, argument = m.groups()
        if command == 'Connect':
            on = re.search(r' on (\S+)', argument)
            if on: thread_db[thread] = on.group(1)
        if command in ('Query', 'Execute'):
            maria.append([thread_db.get(thread), argument])
            last = maria[-1]
        else:
            last = None
    elif last is not None:
        last[1] += ' ' + line.strip()
report('MariaDB', [(db, text) for db, text in maria])
PY
rm -f "$PG_WINDOW" "$MARIA_LOG"
