/* verify_log's leaf hashing on SQLite, in C: optional, loaded by audit/native/__init__.py.
 *
 * Reading twenty columns per entry through Python's sqlite3 module costs more than hashing the
 * leaf, so on SQLite verify_log can hand a range of entries to this library instead. It runs
 * the SELECT verify_log built (audit.verification._sql, "native_entries": the columns of
 * audit.leaves.ROW_FIELDS as stored, then the stored leaf_hash), writes each entry's commitment JSON and public leaf exactly as
 * audit.leaves.leaf_hashes_of_rows does (canonical JSON: sorted keys, no spaces, UTF-8, the
 * escapes of json.dumps(ensure_ascii=False)), hashes them with OpenSSL's SHA-256 (one fetched
 * digest and context for the whole call: OpenSSL 3's one-shot SHA256() looks the algorithm up
 * on every call, which costs more than the hashing) and compares
 * the leaf hash with the stored one. The tests hold it to the Python functions byte for byte.
 *
 * A value of a type the Python path would refuse or read differently (a NULL in a NOT NULL
 * field, a number in a text field, a salt that is not plain hex) marks the entry as not
 * matching: this library may be stricter than the Python path, never laxer.
 *
 * Build: make native (cc -O2 -shared -fPIC leafhash.c -lsqlite3 -lcrypto).
 */
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bumped with every change to the layout; audit/native/__init__.py refuses another version. */
#define LEAFHASH_VERSION 1

/* Column positions: audit.leaves.ROW_FIELDS, then the stored leaf hash. */
enum {
    C_SEQUENCE, C_RECORDED_AT, C_OCCURRED_AT, C_LOCAL_DATE, C_TECHNOLOGY, C_QUERY_TYPE,
    C_INTEGRATION, C_AGENCY, C_ON_BEHALF_OF, C_OPERATOR, C_SUPERVISOR, C_FINGERPRINT,
    C_OFFENSE_CODE, C_OFFENSE_CATEGORY, C_JUSTIFICATION, C_CASE_NUMBER, C_SCOPE,
    C_RESULT_COUNT, C_CLIENT_REF, C_SALT, C_LEAF_HASH, N_COLUMNS
};

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

/* A text column as a JSON string; NULL as null only where the field may be NULL. */
static void put_text(Buffer *b, sqlite3_stmt *st, int col, int nullable) {
    int type = sqlite3_column_type(st, col);
    if (type == SQLITE_NULL && nullable) {
        PUT_LITERAL(b, "null");
    } else if (type == SQLITE_TEXT) {
        const unsigned char *s = sqlite3_column_text(st, col);
        put_json_string(b, s, sqlite3_column_bytes(st, col));
    } else {
        b->bad = 1;
    }
}

/* A time as the log committed to it (audit.leaves.iso_utc) from the text Django's SQLite backend
 * stores ("YYYY-MM-DD HH:MM:SS[.ffffff]", UTC): each space becomes 'T', then "+00:00" follows
 * when there are microseconds and ".000000+00:00" when there are none. audit.verification
 * makes the same conversion in SQL for the Python path. */
static void put_moment(Buffer *b, sqlite3_stmt *st, int col) {
    unsigned char text[64];
    int n = sqlite3_column_bytes(st, col);
    const unsigned char *s = sqlite3_column_text(st, col);
    if (sqlite3_column_type(st, col) != SQLITE_TEXT || n > 32) {
        b->bad = 1; /* not a stored time: the entry cannot match */
        return;
    }
    int fraction = 0;
    for (int i = 0; i < n; i++) {
        text[i] = s[i] == ' ' ? 'T' : s[i];
        fraction |= s[i] == '.';
    }
    const char *zone = fraction ? "+00:00" : ".000000+00:00";
    size_t zone_length = strlen(zone);
    memcpy(text + n, zone, zone_length);
    put_json_string(b, text, n + (int)zone_length);
}

/* An integer column as a JSON number; NULL as null only where the field may be NULL. */
static void put_integer(Buffer *b, sqlite3_stmt *st, int col, int nullable) {
    int type = sqlite3_column_type(st, col);
    if (type == SQLITE_NULL && nullable) {
        PUT_LITERAL(b, "null");
    } else if (type == SQLITE_INTEGER) {
        char digits[24];
        int n = snprintf(digits, sizeof digits, "%lld", (long long)sqlite3_column_int64(st, col));
        put(b, digits, (size_t)n);
    } else {
        b->bad = 1;
    }
}

/* "true" when the text column holds a non-empty string (Python: `"true" if value else ...`). */
static void put_present(Buffer *b, sqlite3_stmt *st, int col) {
    int type = sqlite3_column_type(st, col);
    if (type == SQLITE_NULL) {
        PUT_LITERAL(b, "false");
    } else if (type == SQLITE_TEXT) {
        if (sqlite3_column_bytes(st, col) > 0) PUT_LITERAL(b, "true");
        else PUT_LITERAL(b, "false");
    } else {
        b->bad = 1;
    }
}

static int hex_value(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The salt's bytes, then the commitment JSON (audit.leaves.commitment_bytes). */
static void put_salt_and_commitment(Buffer *b, sqlite3_stmt *st) {
    if (sqlite3_column_type(st, C_SALT) != SQLITE_TEXT) {
        b->bad = 1;
        return;
    }
    const unsigned char *salt = sqlite3_column_text(st, C_SALT);
    int n = sqlite3_column_bytes(st, C_SALT);
    if (n % 2) {
        b->bad = 1;
        return;
    }
    for (int i = 0; i < n; i += 2) {
        int high = hex_value(salt[i]), low = hex_value(salt[i + 1]);
        if (high < 0 || low < 0) {
            b->bad = 1;
            return;
        }
        unsigned char byte = (unsigned char)(high << 4 | low);
        put(b, &byte, 1);
    }
    PUT_LITERAL(b, "{\"case_number\":");
    put_text(b, st, C_CASE_NUMBER, 0);
    PUT_LITERAL(b, ",\"client_ref\":");
    put_text(b, st, C_CLIENT_REF, 1);
    PUT_LITERAL(b, ",\"integration\":");
    put_text(b, st, C_INTEGRATION, 0);
    PUT_LITERAL(b, ",\"justification\":");
    put_text(b, st, C_JUSTIFICATION, 0);
    PUT_LITERAL(b, ",\"occurred_at\":");
    put_moment(b, st, C_OCCURRED_AT);
    PUT_LITERAL(b, ",\"offense_code\":");
    put_text(b, st, C_OFFENSE_CODE, 0);
    PUT_LITERAL(b, ",\"on_behalf_of\":");
    put_text(b, st, C_ON_BEHALF_OF, 0);
    PUT_LITERAL(b, ",\"operator\":");
    put_text(b, st, C_OPERATOR, 0);
    PUT_LITERAL(b, ",\"recorded_at\":");
    put_moment(b, st, C_RECORDED_AT);
    PUT_LITERAL(b, ",\"result_count\":");
    put_integer(b, st, C_RESULT_COUNT, 1);
    PUT_LITERAL(b, ",\"supervisor\":");
    put_text(b, st, C_SUPERVISOR, 0);
    PUT_LITERAL(b, ",\"target_fingerprint\":");
    put_text(b, st, C_FINGERPRINT, 0);
    PUT_LITERAL(b, "}");
}

/* 0x00 then the public leaf (audit.leaves.leaf_bytes), given its commitment's hex. */
static void put_leaf(Buffer *b, sqlite3_stmt *st, const char commitment[64]) {
    PUT_LITERAL(b, "\0{\"agency\":");
    put_text(b, st, C_AGENCY, 0);
    PUT_LITERAL(b, ",\"case_number_present\":");
    put_present(b, st, C_CASE_NUMBER);
    PUT_LITERAL(b, ",\"date\":");
    put_text(b, st, C_LOCAL_DATE, 0);
    PUT_LITERAL(b, ",\"offense_category\":");
    put_text(b, st, C_OFFENSE_CATEGORY, 0);
    PUT_LITERAL(b, ",\"on_behalf_of_present\":");
    put_present(b, st, C_ON_BEHALF_OF);
    PUT_LITERAL(b, ",\"private_commitment\":\"");
    put(b, commitment, 64);
    PUT_LITERAL(b, "\",\"query_type\":");
    put_text(b, st, C_QUERY_TYPE, 0);
    PUT_LITERAL(b, ",\"scope\":");
    put_text(b, st, C_SCOPE, 0);
    PUT_LITERAL(b, ",\"sequence\":");
    put_integer(b, st, C_SEQUENCE, 0);
    PUT_LITERAL(b, ",\"supervisor_present\":");
    put_present(b, st, C_SUPERVISOR);
    PUT_LITERAL(b, ",\"technology\":");
    put_text(b, st, C_TECHNOLOGY, 0);
    PUT_LITERAL(b, ",\"v\":1}");
}

static void to_hex(const unsigned char *digest, char out[64]) {
    for (int i = 0; i < 32; i++) {
        out[2 * i] = HEX[digest[i] >> 4];
        out[2 * i + 1] = HEX[digest[i] & 15];
    }
}

static int sha256(EVP_MD_CTX *ctx, const EVP_MD *md, const Buffer *b, unsigned char out[32]) {
    return EVP_DigestInit_ex(ctx, md, NULL) && EVP_DigestUpdate(ctx, b->data, b->len) &&
           EVP_DigestFinal_ex(ctx, out, NULL);
}

int sightline_leafhash_version(void) { return LEAFHASH_VERSION; }

/* Run `sql` (two parameters: start, end) on the SQLite database at `path`, opened read-only,
 * and for each row i (at most `capacity`): sequences[i], digests[32 i ...] (the recomputed
 * leaf hash, zeros when the row cannot be written) and matches[i] (1 when it equals the stored
 * leaf hash). Returns the number of rows, or -1 with a message in `error`. */
long long sightline_leaf_hashes(const char *path, const char *sql, long long start,
                                long long end, long long capacity, long long *sequences,
                                unsigned char *digests, unsigned char *matches, char *error,
                                int error_size) {
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    Buffer private = {0}, leaf = {0};
    long long rows = -1;
    EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!md || !ctx) {
        snprintf(error, (size_t)error_size, "OpenSSL has no SHA-256");
        goto done;
    }
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
        unsigned char commitment[32], *digest = digests + 32 * rows;
        char commitment_hex[64], digest_hex[64];
        sequences[rows] = sqlite3_column_int64(st, C_SEQUENCE);
        private.len = leaf.len = 0;
        private.bad = leaf.bad = 0;
        put_salt_and_commitment(&private, st);
        if (!sha256(ctx, md, &private, commitment)) goto hash_failed;
        to_hex(commitment, commitment_hex);
        put_leaf(&leaf, st, commitment_hex);
        if (private.bad == 2 || leaf.bad == 2) {
            snprintf(error, (size_t)error_size, "out of memory");
            rows = -1;
            goto done;
        }
        matches[rows] = 0;
        if (private.bad || leaf.bad) {
            memset(digest, 0, 32);
        } else {
            if (!sha256(ctx, md, &leaf, digest)) goto hash_failed;
            to_hex(digest, digest_hex);
            matches[rows] = sqlite3_column_type(st, C_LEAF_HASH) == SQLITE_TEXT &&
                            sqlite3_column_bytes(st, C_LEAF_HASH) == 64 &&
                            memcmp(sqlite3_column_text(st, C_LEAF_HASH), digest_hex, 64) == 0;
        }
        rows++;
    }
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) goto done;
failed:
    snprintf(error, (size_t)error_size, "%s", db ? sqlite3_errmsg(db) : "cannot open SQLite");
    rows = -1;
    goto done;
hash_failed:
    snprintf(error, (size_t)error_size, "SHA-256 failed");
    rows = -1;
done:
    EVP_MD_CTX_free(ctx);
    EVP_MD_free(md);
    sqlite3_finalize(st);
    sqlite3_close(db);
    free(private.data);
    free(leaf.data);
    return rows;
}
