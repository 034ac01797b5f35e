/* verify_log's leaf hashing in C, for SQLite and PostgreSQL: optional, loaded by
 * audit/native/__init__.py (built by `make native`).
 *
 * Turning twenty columns per entry into Python objects costs more than hashing the entry, so
 * verify_log can hand each range of entries to this library instead. It runs the SELECT that
 * audit.verification._sql built (the columns of audit.leaves.ROW_FIELDS, the stored leaf_hash
 * and what the three links point at) on a connection of its own, writes each entry's commitment
 * JSON and public leaf exactly as audit.leaves.leaf_hashes_of_rows does (canonical JSON: sorted
 * keys, no spaces, UTF-8, the escapes of json.dumps(ensure_ascii=False)), hashes them with
 * OpenSSL's SHA-256 and compares the leaf hash with the stored one. It also hashes the subtree
 * levels over each range of leaves and checks the links (build_levels, check_links). The tests
 * hold it to the Python path and to json.dumps byte for byte.
 *
 * A value of a type the Python path would refuse (a NULL in a NOT NULL field, a number or a
 * BLOB in a text field, a salt that is not plain hex) marks the entry as not matching: this
 * library may be stricter than the Python path, never laxer.
 *
 * The SQLite part needs libsqlite3 and is always built; the PostgreSQL part needs libpq and is
 * built when SIGHTLINE_LIBPQ is defined (the Makefile does when libpq's headers are there).
 */
/* OpenSSL's SHA256_Init/Update/Final: deprecated in OpenSSL 3 in favour of EVP, whose every
 * digest costs more than hashing this library's few hundred bytes (measured: bench/README). */
#define OPENSSL_API_COMPAT 0x10100000L
#include <openssl/sha.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped with every change to the layout; audit/native/__init__.py refuses another version. */
#define LEAFHASH_VERSION 3

/* Column positions: audit.leaves.ROW_FIELDS, the stored leaf hash, then what the entry's three
 * links point at (audit.verification._LINKS: operator's badge, supervisor's badge, agency's
 * code; NULL where the link is empty). */
enum {
    C_SEQUENCE, C_RECORDED_AT, C_OCCURRED_AT, C_LOCAL_DATE, C_TECHNOLOGY, C_QUERY_TYPE,
    C_INTEGRATION, C_AGENCY, C_ON_BEHALF_OF, C_OPERATOR, C_SUPERVISOR, C_FINGERPRINT,
    C_OFFENSE_CODE, C_OFFENSE_CATEGORY, C_JUSTIFICATION, C_CASE_NUMBER, C_SCOPE,
    C_RESULT_COUNT, C_CLIENT_REF, C_SALT, C_LEAF_HASH, C_OPERATOR_LINK, C_SUPERVISOR_LINK,
    C_AGENCY_LINK, N_COLUMNS
};

/* Each link and the committed value it must equal, in the order of bad_links[]. */
static const int LINKS[3][2] = {
    {C_OPERATOR_LINK, C_OPERATOR}, {C_SUPERVISOR_LINK, C_SUPERVISOR}, {C_AGENCY_LINK, C_AGENCY}};

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int bad; /* the row cannot be written as the Python path would write it */
} Buffer;

static int reserve(Buffer *b, size_t more) {
    if (b->len + more <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more) cap *= 2;
    unsigned char *data = realloc(b->data, cap);
    if (!data) return 0;
    b->data = data;
    b->cap = cap;
    return 1;
}

static void put(Buffer *b, const void *bytes, size_t n) {
    if (!reserve(b, n)) {
        b->bad = 2; /* out of memory */
        return;
    }
    memcpy(b->data + b->len, bytes, n);
    b->len += n;
}

#define PUT_LITERAL(b, s) put((b), (s), sizeof(s) - 1)

static const char HEX[] = "0123456789abcdef";

/* The bytes a JSON string escapes: '"', '\\' and everything below 0x20 (the first 32). */
static const unsigned char ESCAPED[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    ['"'] = 1, ['\\'] = 1,
};

/* A JSON string as json.dumps(ensure_ascii=False) writes it: '"' and '\\' escaped, the five
 * short escapes, every other character below U+0020 as \u00XX, everything else as is. */
static void put_json_string(Buffer *b, const unsigned char *s, int n) {
    if (!reserve(b, (size_t)n * 6 + 2)) {
        b->bad = 2;
        return;
    }
    unsigned char *out = b->data + b->len;
    *out++ = '"';
    for (int i = 0; i < n;) {
        int run = i;
        while (run < n && !ESCAPED[s[run]]) run++;
        memcpy(out, s + i, (size_t)(run - i));
        out += run - i;
        if (run == n) break;
        unsigned char c = s[run];
        i = run + 1;
        *out++ = '\\';
        switch (c) {
        case '"': *out++ = '"'; break;
        case '\\': *out++ = '\\'; break;
        case '\b': *out++ = 'b'; break;
        case '\f': *out++ = 'f'; break;
        case '\n': *out++ = 'n'; break;
        case '\r': *out++ = 'r'; break;
        case '\t': *out++ = 't'; break;
        default:
            *out++ = 'u';
            *out++ = '0';
            *out++ = '0';
            *out++ = HEX[c >> 4];
            *out++ = HEX[c & 15];
        }
    }
    *out++ = '"';
    b->len = (size_t)(out - b->data);
}

/* One row's columns, whichever database read them: text (not NUL-terminated) and its kind. */
typedef enum { V_NULL, V_TEXT, V_INTEGER, V_OTHER } Kind;
typedef struct {
    const unsigned char *text;
    int len;
    Kind kind;
} Value;
typedef struct {
    Value v[N_COLUMNS];
    char digits[N_COLUMNS][24]; /* SQLite integers written out in decimal */
} Row;

/* A text column as a JSON string; NULL as null only where the field may be NULL. */
static void put_text(Buffer *b, const Value *v, int nullable) {
    if (v->kind == V_NULL && nullable) PUT_LITERAL(b, "null");
    else if (v->kind == V_TEXT) put_json_string(b, v->text, v->len);
    else b->bad = 1;
}

/* How a database gives the two times: as Django's SQLite backend stores them, or as PostgreSQL
 * writes a timestamptz (DateStyle ISO, TimeZone UTC, set by sightline_pg_open). */
enum { SQLITE_TIMES, POSTGRES_TIMES };

/* A time as the log committed to it (audit.leaves.iso_utc) from the text Django's SQLite backend
 * stores ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC): each space becomes 'T', then "+00:00" follows
 * when there are microseconds and ".000000+00:00" when there are none. audit.verification
 * makes the same conversion in SQL for the Python path. */
static void put_sqlite_moment(Buffer *b, const Value *v) {
    unsigned char text[64];
    if (v->kind != V_TEXT || v->len > 32) {
        b->bad = 1; /* not a stored time: the entry cannot match */
        return;
    }
    int fraction = 0;
    for (int i = 0; i < v->len; i++) {
        text[i] = v->text[i] == ' ' ? 'T' : v->text[i];
        fraction |= v->text[i] == '.';
    }
    const char *zone = fraction ? "+00:00" : ".000000+00:00";
    size_t zone_length = strlen(zone);
    memcpy(text + v->len, zone, zone_length);
    put_json_string(b, text, v->len + (int)zone_length);
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

/* The same from PostgreSQL's text of a timestamptz in UTC: "YYYY-MM-DD HH:MM:SS[.f...]+00",
 * where the fraction (1 to 6 digits) drops trailing zeros and is left out when zero. Python's
 * path has the server write iso_utc's form with to_char instead, which costs the server more
 * than the rest of the row. Anything else is not a time the log could hold. */
static void put_postgres_moment(Buffer *b, const Value *v) {
    static const char SHAPE[] = "dddd-dd-dd dd:dd:dd"; /* d: a digit */
    unsigned char text[32];
    const unsigned char *s = v->text;
    int n = v->len, fraction = n - 19 - 3; /* what lies between the seconds and "+00" */
    if (v->kind != V_TEXT || fraction < 0 || fraction == 1 || fraction > 7 ||
        memcmp(s + n - 3, "+00", 3) != 0 || (fraction && s[19] != '.')) {
        b->bad = 1;
        return;
    }
    for (int i = 0; i < 19; i++) {
        if (SHAPE[i] == 'd' ? !is_digit(s[i]) : s[i] != SHAPE[i]) {
            b->bad = 1;
            return;
        }
    }
    memcpy(text, s, 19);
    text[10] = 'T';
    text[19] = '.';
    for (int i = 0; i < 6; i++) {
        int at = 20 + i;
        if (i < fraction - 1 && !is_digit(s[at])) {
            b->bad = 1;
            return;
        }
        text[at] = i < fraction - 1 ? s[at] : '0';
    }
    memcpy(text + 26, "+00:00", 6);
    put_json_string(b, text, 32);
}

static void put_moment(Buffer *b, const Value *v, int times) {
    if (times == SQLITE_TIMES) put_sqlite_moment(b, v);
    else put_postgres_moment(b, v);
}

/* An integer column as a JSON number; NULL as null only where the field may be NULL. */
static void put_integer(Buffer *b, const Value *v, int nullable) {
    if (v->kind == V_NULL && nullable) PUT_LITERAL(b, "null");
    else if (v->kind == V_INTEGER) put(b, v->text, (size_t)v->len);
    else b->bad = 1;
}

/* "true" when the text column holds a non-empty string (Python: `"true" if value else ...`). */
static void put_present(Buffer *b, const Value *v) {
    if (v->kind == V_TEXT && v->len > 0) PUT_LITERAL(b, "true");
    else if (v->kind == V_TEXT || v->kind == V_NULL) PUT_LITERAL(b, "false");
    else b->bad = 1;
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The salt's bytes, then the commitment JSON (audit.leaves.commitment_bytes). */
static void put_salt_and_commitment(Buffer *b, const Row *r, int times) {
    const Value *salt = &r->v[C_SALT];
    if (salt->kind != V_TEXT || salt->len % 2) {
        b->bad = 1;
        return;
    }
    for (int i = 0; i < salt->len; i += 2) {
        int high = hex_value(salt->text[i]), low = hex_value(salt->text[i + 1]);
        if (high < 0 || low < 0) {
            b->bad = 1;
            return;
        }
        unsigned char byte = (unsigned char)(high << 4 | low);
        put(b, &byte, 1);
    }
    PUT_LITERAL(b, "{\"case_number\":");
    put_text(b, &r->v[C_CASE_NUMBER], 0);
    PUT_LITERAL(b, ",\"client_ref\":");
    put_text(b, &r->v[C_CLIENT_REF], 1);
    PUT_LITERAL(b, ",\"integration\":");
    put_text(b, &r->v[C_INTEGRATION], 0);
    PUT_LITERAL(b, ",\"justification\":");
    put_text(b, &r->v[C_JUSTIFICATION], 0);
    PUT_LITERAL(b, ",\"occurred_at\":");
    put_moment(b, &r->v[C_OCCURRED_AT], times);
    PUT_LITERAL(b, ",\"offense_code\":");
    put_text(b, &r->v[C_OFFENSE_CODE], 0);
    PUT_LITERAL(b, ",\"on_behalf_of\":");
    put_text(b, &r->v[C_ON_BEHALF_OF], 0);
    PUT_LITERAL(b, ",\"operator\":");
    put_text(b, &r->v[C_OPERATOR], 0);
    PUT_LITERAL(b, ",\"recorded_at\":");
    put_moment(b, &r->v[C_RECORDED_AT], times);
    PUT_LITERAL(b, ",\"result_count\":");
    put_integer(b, &r->v[C_RESULT_COUNT], 1);
    PUT_LITERAL(b, ",\"supervisor\":");
    put_text(b, &r->v[C_SUPERVISOR], 0);
    PUT_LITERAL(b, ",\"target_fingerprint\":");
    put_text(b, &r->v[C_FINGERPRINT], 0);
    PUT_LITERAL(b, "}");
}

/* 0x00 then the public leaf (audit.leaves.leaf_bytes), given its commitment's hex. */
static void put_leaf(Buffer *b, const Row *r, const char commitment[64]) {
    PUT_LITERAL(b, "\0{\"agency\":");
    put_text(b, &r->v[C_AGENCY], 0);
    PUT_LITERAL(b, ",\"case_number_present\":");
    put_present(b, &r->v[C_CASE_NUMBER]);
    PUT_LITERAL(b, ",\"date\":");
    put_text(b, &r->v[C_LOCAL_DATE], 0);
    PUT_LITERAL(b, ",\"offense_category\":");
    put_text(b, &r->v[C_OFFENSE_CATEGORY], 0);
    PUT_LITERAL(b, ",\"on_behalf_of_present\":");
    put_present(b, &r->v[C_ON_BEHALF_OF]);
    PUT_LITERAL(b, ",\"private_commitment\":\"");
    put(b, commitment, 64);
    PUT_LITERAL(b, "\",\"query_type\":");
    put_text(b, &r->v[C_QUERY_TYPE], 0);
    PUT_LITERAL(b, ",\"scope\":");
    put_text(b, &r->v[C_SCOPE], 0);
    PUT_LITERAL(b, ",\"sequence\":");
    put_integer(b, &r->v[C_SEQUENCE], 0);
    PUT_LITERAL(b, ",\"supervisor_present\":");
    put_present(b, &r->v[C_SUPERVISOR]);
    PUT_LITERAL(b, ",\"technology\":");
    put_text(b, &r->v[C_TECHNOLOGY], 0);
    PUT_LITERAL(b, ",\"v\":1}");
}

static void to_hex(const unsigned char *digest, char out[64]) {
    for (int i = 0; i < 32; i++) {
        out[2 * i] = HEX[digest[i] >> 4];
        out[2 * i + 1] = HEX[digest[i] & 15];
    }
}

typedef struct {
    Buffer private, leaf;
} Hasher;

static void hasher_close(Hasher *h) {
    free(h->private.data);
    free(h->leaf.data);
}

static void sha256(const Buffer *b, unsigned char out[32]) {
    SHA256_CTX ctx;
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, b->data, b->len);
    SHA256_Final(out, &ctx);
}

/* The row's leaf hash into `digest` (zeros when the row cannot be written) and whether it
 * equals the stored one into `*match`. Returns 0, or -1 with a message in `error`. */
static int hash_row(Hasher *h, const Row *r, int times, unsigned char digest[32],
                    unsigned char *match, char *error, int error_size) {
    unsigned char commitment[32];
    char commitment_hex[64], digest_hex[64];
    h->private.len = h->leaf.len = 0;
    h->private.bad = h->leaf.bad = 0;
    put_salt_and_commitment(&h->private, r, times);
    if (h->private.bad != 2) sha256(&h->private, commitment);
    to_hex(commitment, commitment_hex);
    put_leaf(&h->leaf, r, commitment_hex);
    if (h->private.bad == 2 || h->leaf.bad == 2) {
        snprintf(error, (size_t)error_size, "out of memory");
        return -1;
    }
    *match = 0;
    if (h->private.bad || h->leaf.bad) {
        memset(digest, 0, 32);
        return 0;
    }
    sha256(&h->leaf, digest);
    to_hex(digest, digest_hex);
    const Value *stored = &r->v[C_LEAF_HASH];
    *match = stored->kind == V_TEXT && stored->len == 64 && !memcmp(stored->text, digest_hex, 64);
    return 0;
}

/* Where a link points at a value other than the committed one (SQL: linked <> committed, so an
 * empty link never counts), the first such sequence of each link into bad_links[]. */
static void check_links(const Row *r, long long sequence, long long bad_links[3]) {
    for (int k = 0; k < 3; k++) {
        const Value *linked = &r->v[LINKS[k][0]], *committed = &r->v[LINKS[k][1]];
        if (bad_links[k] >= 0 || linked->kind == V_NULL || committed->kind == V_NULL) continue;
        if (linked->len != committed->len ||
            memcmp(linked->text, committed->text, (size_t)linked->len) != 0)
            bad_links[k] = sequence;
    }
}

/* The hashes of the subtrees over the rows' leaf hashes, level by level: level 1 (rows / 2
 * nodes: SHA-256(0x01 || left || right) of each pair, an odd last leaf left out), then level 2
 * over level 1, and so on while two nodes remain, one after another into `nodes`. verify_log
 * compares them with the stored subtree hashes; it uses them only when the rows hold no gap
 * and no mismatch, and the range starts on a boundary of the subtrees. */
static void build_levels(const unsigned char *leaves, long long rows, unsigned char *nodes) {
    static const unsigned char NODE = 0x01;
    const unsigned char *below = leaves;
    unsigned char *out = nodes;
    for (long long count = rows / 2; count > 0; count /= 2) {
        for (long long i = 0; i < count; i++) {
            SHA256_CTX ctx;
            SHA256_Init(&ctx);
            SHA256_Update(&ctx, &NODE, 1);
            SHA256_Update(&ctx, below + 64 * i, 64);
            SHA256_Final(out + 32 * i, &ctx);
        }
        below = out;
        out += 32 * count;
    }
}

int sightline_leafhash_version(void) { return LEAFHASH_VERSION; }

static void row_from_sqlite(Row *r, sqlite3_stmt *st) {
    for (int col = 0; col < N_COLUMNS; col++) {
        Value *v = &r->v[col];
        switch (sqlite3_column_type(st, col)) {
        case SQLITE_NULL:
            v->kind = V_NULL;
            break;
        case SQLITE_TEXT:
            v->kind = V_TEXT;
            v->text = sqlite3_column_text(st, col);
            v->len = sqlite3_column_bytes(st, col);
            break;
        case SQLITE_INTEGER:
            v->kind = V_INTEGER;
            v->len = snprintf(r->digits[col], sizeof r->digits[col], "%lld",
                              (long long)sqlite3_column_int64(st, col));
            v->text = (const unsigned char *)r->digits[col];
            break;
        default: /* a REAL or a BLOB: no field of an entry holds one */
            v->kind = V_OTHER;
        }
    }
}

/* Run `sql` (two parameters: start, end; Django's stored times) on the SQLite database at
 * `path`, opened read-only, and for each row i (at most `capacity`): sequences[i], digests[32 i
 * ...] (the recomputed leaf hash, zeros when the row cannot be written) and matches[i] (1 when
 * it equals the stored leaf hash); then the subtree levels over them into `nodes` (room for
 * `capacity` hashes: build_levels), and for each link the first sequence where it points at
 * another value than the committed one (bad_links[3], -1 for none: check_links). Returns the
 * number of rows, or -1 with a message in `error`. */
long long sightline_leaf_hashes(const char *path, const char *sql, long long start,
                                long long end, long long capacity, long long *sequences,
                                unsigned char *digests, unsigned char *matches,
                                unsigned char *nodes, long long *bad_links, char *error,
                                int error_size) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    Hasher h = {0};
    Row row;
    long long rows = -1;
    bad_links[0] = bad_links[1] = bad_links[2] = -1;
    /* One thread uses the connection: no mutex around every column read. */
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_busy_timeout(db, 30000);
    /* Pages read through a memory map rather than copied in by read() calls. */
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, "PRAGMA mmap_size = 1073741824", NULL, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && sqlite3_column_count(st) != N_COLUMNS) {
        snprintf(error, (size_t)error_size, "expected %d columns, not %d", N_COLUMNS,
                 sqlite3_column_count(st));
        goto done;
    }
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 1, start);
    if (rc == SQLITE_OK) rc = sqlite3_bind_int64(st, 2, end);
    if (rc != SQLITE_OK) goto failed;
    rows = 0;
    while (rows < capacity && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_from_sqlite(&row, st);
        sequences[rows] = sqlite3_column_int64(st, C_SEQUENCE);
        check_links(&row, sequences[rows], bad_links);
        if (hash_row(&h, &row, SQLITE_TIMES, digests + 32 * rows, matches + rows, error,
                     error_size)) {
            rows = -1;
            goto done;
        }
        rows++;
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        build_levels(digests, rows, nodes);
        goto done;
    }
failed:
    snprintf(error, (size_t)error_size, "%s", db ? sqlite3_errmsg(db) : "cannot open SQLite");
    rows = -1;
done:
    hasher_close(&h);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rows;
}

#ifdef SIGHTLINE_LIBPQ
#include <libpq-fe.h>

int sightline_has_postgresql(void) { return 1; }

/* A connection of its own (libpq keywords and values, as a conninfo string), set to write
 * times and dates in ISO form and in UTC; or NULL with a message in `error`. */
void *sightline_pg_open(const char *conninfo, char *error, int error_size) {
    PGconn *conn = PQconnectdb(conninfo);
    if (conn && PQstatus(conn) == CONNECTION_OK) {
        PGresult *set = PQexec(conn, "SET datestyle = 'ISO'; SET timezone = 'UTC'");
        int ok = PQresultStatus(set) == PGRES_COMMAND_OK;
        PQclear(set);
        if (ok) return conn;
    }
    snprintf(error, (size_t)error_size, "%s", conn ? PQerrorMessage(conn) : "out of memory");
    PQfinish(conn);
    return NULL;
}

void sightline_pg_close(void *conn) { PQfinish(conn); }

/* As sightline_leaf_hashes, on a connection from sightline_pg_open; `sql` takes $1 and $2 and
 * gives the two times as timestamptz and the date as a date. */
long long sightline_pg_leaf_hashes(void *conn, const char *sql, long long start, long long end,
                                   long long capacity, long long *sequences,
                                   unsigned char *digests, unsigned char *matches,
                                   unsigned char *nodes, long long *bad_links, char *error,
                                   int error_size) {
    char first[24], last[24];
    snprintf(first, sizeof first, "%lld", start);
    snprintf(last, sizeof last, "%lld", end);
    const char *params[2] = {first, last};
    Hasher h = {0};
    Row row;
    long long rows = -1;
    PGresult *result = NULL;
    bad_links[0] = bad_links[1] = bad_links[2] = -1;
    result = PQexecParams(conn, sql, 2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(result) != PGRES_TUPLES_OK) {
        snprintf(error, (size_t)error_size, "%s", PQerrorMessage(conn));
        goto done;
    }
    if (PQnfields(result) != N_COLUMNS) {
        snprintf(error, (size_t)error_size, "expected %d columns, not %d", N_COLUMNS,
                 PQnfields(result));
        goto done;
    }
    long long count = PQntuples(result);
    for (rows = 0; rows < count && rows < capacity; rows++) {
        for (int col = 0; col < N_COLUMNS; col++) {
            Value *v = &row.v[col];
            v->text = (const unsigned char *)PQgetvalue(result, (int)rows, col);
            v->len = PQgetlength(result, (int)rows, col);
            /* Text results: the two integer columns hold their decimal digits. */
            v->kind = PQgetisnull(result, (int)rows, col) ? V_NULL
                      : (col == C_SEQUENCE || col == C_RESULT_COUNT) ? V_INTEGER
                                                                      : V_TEXT;
        }
        sequences[rows] = strtoll(PQgetvalue(result, (int)rows, C_SEQUENCE), NULL, 10);
        check_links(&row, sequences[rows], bad_links);
        if (hash_row(&h, &row, POSTGRES_TIMES, digests + 32 * rows, matches + rows, error,
                     error_size)) {
            rows = -1;
            goto done;
        }
    }
    build_levels(digests, rows, nodes);
done:
    PQclear(result);
    hasher_close(&h);
    return rows;
}
#endif
