/* tokenguard._speedups: the warm-cache hit of TokenGuard.authenticate_cached in one C call.
 *
 * WarmIndex(key, digest_size, entries, entry_type).find(token, prefix) answers what the pure-Python hot
 * path answers when a token is cached, fresh and alive, and None in every other case
 * (the caller then runs the Python path, which decides and refuses with its hooks):
 *
 *   1. token is exactly bytes, or an ASCII str; length, "{prefix}_" and the base62
 *      alphabet of the body are checked before anything is hashed;
 *   2. its probe digest: the keyed BLAKE2s (RFC 7693) that the cache files entries under with
 *      hashlib.blake2s(key=key, digest_size=digest_size), computed here from the state after
 *      the key block, as one compression of the token's single block;
 *   3. the entry filed under that digest in the cache's OrderedDict, if its
 *      deadline is after time.monotonic() and its fresh_until after time.time() (the
 *      entry_type's __slots__, CachedToken's, read in place);
 *   4. the entry moved to the LRU end; its TokenInfo returned.
 *
 * find_in_headers() first finds the token in an ASGI scope's headers, as the middleware's
 * plain_credentials() does, for the common case of one `authorization: Bearer …`.
 *
 * ScopeReader and EnvironReader are the adapters' first step for every request (see
 * tokenguard/web/warm.py): from an ASGI scope or a WSGI environ to the warm token, in one call,
 * only while the guard's clock, cache and before_authenticate hooks are the expected ones; the
 * ASGI reader also makes the request's TokenPrincipal. Anything else is left to Python.
 *
 * TokenDigester(inner, outer).checked_digest(canonical) is the store path's first step
 * after a cache miss: the CRC32 checksum of a token already in canonical shape, then its
 * HMAC-SHA256 from the pre-keyed pads (hashlib's objects: copy, update, digest) as
 * 64 hex characters; None when the checksum does not match (Python then refuses it).
 *
 * The token is only read, within its length; the one copy made (into the 64-byte block that
 * BLAKE2s compresses) follows the length check, which bounds it (see PROBED_MAX).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#define BODY_LENGTH 38
#define MAX_PREFIX 16

#define RANDOM_LENGTH 32
#define PROBED_MAX 64  /* the longest token shape probed: one BLAKE2s block */
#define CHECKSUM_LENGTH 6

static unsigned char base62[256];     /* 1 + the digit's value; 0 outside the alphabet */
static uint32_t crc_table[256];       /* CRC-32 (zlib's, reflected 0xEDB88320) by byte */

/* -- hashlib's methods, looked up once ------------------------------------------------------ */

/* copy, update and digest of one hashlib type, looked up once, not by name at every call. */
typedef struct {
    PyObject *copy;
    PyObject *update;
    PyObject *digest;
} HashCalls;

/* The methods of type(state); -1 with an exception set (and nothing kept) if one is missing. */
static int
hash_calls_init(HashCalls *calls, PyObject *state)
{
    PyObject *type = (PyObject *)Py_TYPE(state);
    PyObject *copy = PyObject_GetAttrString(type, "copy");
    PyObject *update = PyObject_GetAttrString(type, "update");
    PyObject *digest = PyObject_GetAttrString(type, "digest");
    if (copy == NULL || update == NULL || digest == NULL) {
        Py_XDECREF(copy);
        Py_XDECREF(update);
        Py_XDECREF(digest);
        return -1;
    }
    Py_XSETREF(calls->copy, copy);
    Py_XSETREF(calls->update, update);
    Py_XSETREF(calls->digest, digest);
    return 0;
}

static int
hash_calls_traverse(HashCalls *calls, visitproc visit, void *arg)
{
    Py_VISIT(calls->copy);
    Py_VISIT(calls->update);
    Py_VISIT(calls->digest);
    return 0;
}

static void
hash_calls_clear(HashCalls *calls)
{
    Py_CLEAR(calls->copy);
    Py_CLEAR(calls->update);
    Py_CLEAR(calls->digest);
}

/* copy(state), update(copy, data), then finish(copy) (digest or hexdigest): one hash, by hashlib.
 * NULL with an exception set. */
static PyObject *
hashed(const HashCalls *calls, PyObject *state, PyObject *data, PyObject *finish)
{
    PyObject *copied = PyObject_CallOneArg(calls->copy, state);
    if (copied == NULL) {
        return NULL;
    }
    PyObject *update_args[2] = {copied, data};
    PyObject *done = PyObject_Vectorcall(calls->update, update_args, 2, NULL);
    if (done == NULL) {
        Py_DECREF(copied);
        return NULL;
    }
    Py_DECREF(done);
    PyObject *result = PyObject_CallOneArg(finish, copied);
    Py_DECREF(copied);
    return result;
}

/* -- BLAKE2s (RFC 7693), keyed, for one block of data --------------------------------------- */

/* The cache's probe is hashlib.blake2s(data, key=key, digest_size=n) for a data of 1 to 64 bytes.
 * Written here, compactly (the rounds in a loop, not unrolled), because hashlib's object costs a
 * copy, two method calls and a memoryview per probe, and its unrolled code is cold by the time a
 * request reaches it. The key block is compressed once, by WarmIndex's init; a probe is then one
 * compression. tests/test_speedups.py holds it to hashlib's output, RFC 7693's test vector and
 * every one-byte change of a token. */

static const uint32_t blake2s_iv[8] = {
    0x6A09E667u, 0xBB67AE85u, 0x3C6EF372u, 0xA54FF53Au,
    0x510E527Fu, 0x9B05688Cu, 0x1F83D9ABu, 0x5BE0CD19u,
};

static const uint8_t blake2s_sigma[10][16] = {
    {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
    {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
    {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
    {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
    {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
    {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
    {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
    {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
    {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

#define BLAKE2S_BLOCK 64
#define BLAKE2S_KEY 32
#define BLAKE2S_OUT 32

static inline uint32_t
rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static inline uint32_t
load32_le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#define B2S_G(a, b, c, d, x, y)              \
    do {                                     \
        v[a] = v[a] + v[b] + (x);            \
        v[d] = rotr32(v[d] ^ v[a], 16);      \
        v[c] = v[c] + v[d];                  \
        v[b] = rotr32(v[b] ^ v[c], 12);      \
        v[a] = v[a] + v[b] + (y);            \
        v[d] = rotr32(v[d] ^ v[a], 8);       \
        v[c] = v[c] + v[d];                  \
        v[b] = rotr32(v[b] ^ v[c], 7);       \
    } while (0)

/* RFC 7693's F: h updated by one block; `counter` counts the bytes hashed so far, this block's
 * included (never more than 2 blocks here, so its high word is 0). */
static void
blake2s_compress(uint32_t h[8], const unsigned char block[BLAKE2S_BLOCK], uint32_t counter, int last)
{
    uint32_t v[16], m[16];
    for (int i = 0; i < 8; i++) {
        v[i] = h[i];
        v[i + 8] = blake2s_iv[i];
    }
    v[12] ^= counter;
    if (last) {
        v[14] = ~v[14];
    }
    for (int i = 0; i < 16; i++) {
        m[i] = load32_le(block + 4 * i);
    }
    for (int round = 0; round < 10; round++) {
        const uint8_t *s = blake2s_sigma[round];
        B2S_G(0, 4, 8, 12, m[s[0]], m[s[1]]);
        B2S_G(1, 5, 9, 13, m[s[2]], m[s[3]]);
        B2S_G(2, 6, 10, 14, m[s[4]], m[s[5]]);
        B2S_G(3, 7, 11, 15, m[s[6]], m[s[7]]);
        B2S_G(0, 5, 10, 15, m[s[8]], m[s[9]]);
        B2S_G(1, 6, 11, 12, m[s[10]], m[s[11]]);
        B2S_G(2, 7, 8, 13, m[s[12]], m[s[13]]);
        B2S_G(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; i++) {
        h[i] ^= v[i] ^ v[i + 8];
    }
}

/* The state after the key block: what every keyed hash by `key` continues from. */
static void
blake2s_keyed(uint32_t h[8], const unsigned char *key, Py_ssize_t key_length, Py_ssize_t digest_size)
{
    for (int i = 0; i < 8; i++) {
        h[i] = blake2s_iv[i];
    }
    h[0] ^= 0x01010000u ^ ((uint32_t)key_length << 8) ^ (uint32_t)digest_size;  /* fanout, depth 1 */
    unsigned char block[BLAKE2S_BLOCK] = {0};
    memcpy(block, key, (size_t)key_length);
    blake2s_compress(h, block, BLAKE2S_BLOCK, 0);  /* never last: data always follows */
}

/* The keyed digest of data[0:length], 1 <= length <= 64, continuing from `keyed`. */
static void
blake2s_finish(const uint32_t keyed[8], const char *data, Py_ssize_t length, unsigned char out[BLAKE2S_OUT])
{
    uint32_t h[8];
    memcpy(h, keyed, sizeof h);
    unsigned char block[BLAKE2S_BLOCK] = {0};
    memcpy(block, data, (size_t)length);
    blake2s_compress(h, block, (uint32_t)(BLAKE2S_BLOCK + length), 1);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)h[i];
        out[4 * i + 1] = (unsigned char)(h[i] >> 8);
        out[4 * i + 2] = (unsigned char)(h[i] >> 16);
        out[4 * i + 3] = (unsigned char)(h[i] >> 24);
    }
}

/* -- WarmIndex: the warm hit ---------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *entries;        /* OrderedDict: probe digest -> CachedToken */
    PyObject *move_to_end;    /* entries.move_to_end, looked up once */
    PyTypeObject *entry_type; /* CachedToken: its slots are read in place */
    Py_ssize_t at_deadline, at_fresh_until, at_info;  /* their offsets */
    uint32_t keyed[8];        /* BLAKE2s state after the probe key's block */
    Py_ssize_t digest_size;   /* bytes of the probe digest */
    unsigned long long probes;  /* digests computed: what the shape checks let through */
} WarmIndex;

/* time.time() and time.monotonic() as CPython computes them: int64 nanoseconds, then seconds. */
static int
clock_seconds(clockid_t clock, double *seconds)
{
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        return -1;
    }
    int64_t ns = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    if (ns % 1000000000 == 0) {
        *seconds = (double)(ns / 1000000000);
    } else {
        *seconds = (double)ns / 1e9;
    }
    return 0;
}

/* The byte offset of `type`'s __slots__ attribute `name` (an object slot); -1 with an exception. */
static Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *descr = PyObject_GetAttrString((PyObject *)type, name);
    if (descr == NULL) {
        return -1;
    }
    Py_ssize_t offset = -1;
    if (Py_IS_TYPE(descr, &PyMemberDescr_Type) && ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX) {
        offset = ((PyMemberDescrObject *)descr)->d_member->offset;
    } else {
        PyErr_Format(PyExc_TypeError, "%s.%s is no __slots__ attribute", type->tp_name, name);
    }
    Py_DECREF(descr);
    return offset;
}

/* The object in `owner`'s slot at `offset` (borrowed; NULL when unset). */
static inline PyObject *
slot_at(PyObject *owner, Py_ssize_t offset)
{
    return *(PyObject **)((char *)owner + offset);
}

/* The float in entry's slot at `offset`: 0, or -1 when it is unset or no exact float. */
static int
slot_float(PyObject *entry, Py_ssize_t offset, double *value)
{
    PyObject *found = slot_at(entry, offset);
    if (found == NULL || !PyFloat_CheckExact(found)) {
        return -1;
    }
    *value = PyFloat_AS_DOUBLE(found);
    return 0;
}

/* The cache's probe digest of data[0:length] (1 to 64 bytes): a new bytes object, NULL on error. */
static PyObject *
probe(WarmIndex *self, const char *data, Py_ssize_t length)
{
    unsigned char out[BLAKE2S_OUT];
    blake2s_finish(self->keyed, data, length, out);
    self->probes++;
    return PyBytes_FromStringAndSize((const char *)out, self->digest_size);
}

/* The prefix's ASCII bytes and length, or -1 with an exception set. */
static Py_ssize_t
prefix_bytes(PyObject *prefix, const char **data)
{
    if (!PyUnicode_CheckExact(prefix)) {
        PyErr_SetString(PyExc_TypeError, "prefix must be a str");
        return -1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(prefix) < 0) {
        return -1;
    }
#endif
    Py_ssize_t length = PyUnicode_GET_LENGTH(prefix);
    if (!PyUnicode_IS_ASCII(prefix) || length < 1 || length > MAX_PREFIX) {
        PyErr_SetString(PyExc_ValueError, "prefix must be 1 to 16 ASCII characters");
        return -1;
    }
    *data = (const char *)PyUnicode_1BYTE_DATA(prefix);
    return length;
}

/* The info of the token data[0:length] when cached, fresh and alive; None otherwise; NULL on error. */
static PyObject *
lookup(WarmIndex *self, const char *data, Py_ssize_t length, PyObject *prefix)
{
    const char *expected;
    Py_ssize_t prefix_length = prefix_bytes(prefix, &expected);
    if (prefix_length < 0) {
        return NULL;
    }
    /* SECURITY.md 3: length and alphabet before any hashing. */
    _Static_assert(MAX_PREFIX + 1 + BODY_LENGTH <= PROBED_MAX, "a token shape fits one BLAKE2s block");
    if (length != prefix_length + 1 + BODY_LENGTH) {
        Py_RETURN_NONE;
    }
    if (memcmp(data, expected, (size_t)prefix_length) != 0 || data[prefix_length] != '_') {
        Py_RETURN_NONE;
    }
    for (Py_ssize_t i = prefix_length + 1; i < length; i++) {
        if (!base62[(unsigned char)data[i]]) {
            Py_RETURN_NONE;
        }
    }

    PyObject *key = probe(self, data, length);
    if (key == NULL) {
        return NULL;
    }
    PyObject *entry = PyDict_GetItemWithError(self->entries, key);  /* borrowed */
    if (entry == NULL) {
        Py_DECREF(key);
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    Py_INCREF(entry);
    PyObject *info = NULL;
    double deadline, fresh_until, now;
    /* the entry's slots, read in place: anything unusual (another type, a slot unset) is Python's */
    if (Py_TYPE(entry) != self->entry_type || slot_float(entry, self->at_deadline, &deadline) < 0
        || slot_float(entry, self->at_fresh_until, &fresh_until) < 0
        || slot_at(entry, self->at_info) == NULL) {
        info = Py_NewRef(Py_None);
        goto done;
    }
    if (clock_seconds(CLOCK_MONOTONIC, &now) < 0) {
        goto done;
    }
    if (!(deadline > now)) {  /* older than the TTL: the Python path drops it */
        info = Py_NewRef(Py_None);
        goto done;
    }
    if (clock_seconds(CLOCK_REALTIME, &now) < 0) {
        goto done;
    }
    if (!(now < fresh_until)) {  /* revoked, expired, or a last_used_at write due */
        info = Py_NewRef(Py_None);
        goto done;
    }
    PyObject *moved = PyObject_CallOneArg(self->move_to_end, key);
    if (moved != NULL) {
        Py_DECREF(moved);
    } else if (PyErr_ExceptionMatches(PyExc_KeyError)) {
        PyErr_Clear();  /* invalidated meanwhile: this request began before that */
    } else {
        goto done;
    }
    info = Py_NewRef(slot_at(entry, self->at_info));  /* the entry is still ours: set */
done:
    Py_DECREF(entry);
    Py_DECREF(key);
    return info;
}

static int
initialised(WarmIndex *self)
{
    if (self->move_to_end == NULL) {  /* set by init last, once everything else is */
        PyErr_SetString(PyExc_RuntimeError, "WarmIndex was not initialised");
        return 0;
    }
    return 1;
}

static PyObject *
WarmIndex_find(WarmIndex *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!initialised(self)) {
        return NULL;
    }
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "find() takes exactly two arguments: token, prefix");
        return NULL;
    }
    PyObject *token = args[0];
    if (PyBytes_CheckExact(token)) {
        return lookup(self, PyBytes_AS_STRING(token), PyBytes_GET_SIZE(token), args[1]);
    }
    if (PyUnicode_CheckExact(token)) {
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(token) < 0) {
            return NULL;
        }
#endif
        if (PyUnicode_IS_ASCII(token)) {
            return lookup(self, (const char *)PyUnicode_1BYTE_DATA(token), PyUnicode_GET_LENGTH(token),
                          args[1]);
        }
    }
    const char *unused;
    if (prefix_bytes(args[1], &unused) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
WarmIndex_digest(WarmIndex *self, PyObject *data)
{
    if (!initialised(self)) {
        return NULL;
    }
    if (!PyBytes_CheckExact(data)) {
        PyErr_SetString(PyExc_TypeError, "digest() takes bytes");
        return NULL;
    }
    Py_ssize_t length = PyBytes_GET_SIZE(data);
    if (length < 1 || length > PROBED_MAX) {
        PyErr_SetString(PyExc_ValueError, "digest() takes 1 to 64 bytes");
        return NULL;
    }
    return probe(self, PyBytes_AS_STRING(data), length);
}

static int
same_bytes(PyObject *a, PyObject *b)
{
    Py_ssize_t length = PyBytes_GET_SIZE(a);
    return length == PyBytes_GET_SIZE(b) && memcmp(PyBytes_AS_STRING(a), PyBytes_AS_STRING(b), (size_t)length) == 0;
}

/* The answer for one credential header's value, data[0:length]: the info of the token after
 * "Bearer " when it is warm; False for another scheme or spelling, or a token not warm here
 * (Python then decides); NULL on error. */
static PyObject *
bearer_answer(WarmIndex *self, const char *data, Py_ssize_t length, PyObject *prefix)
{
    static const char bearer[] = "Bearer ";
    const Py_ssize_t skip = (Py_ssize_t)(sizeof bearer - 1);
    if (length <= skip || memcmp(data, bearer, (size_t)skip) != 0) {
        Py_RETURN_FALSE;
    }
    PyObject *info = lookup(self, data + skip, length - skip, prefix);
    if (info == Py_None) {
        Py_DECREF(info);
        Py_RETURN_FALSE;
    }
    return info;
}

/* The answer for an ASGI scope's headers (see find_in_headers below); the argument types were
 * checked by the caller: authorization bytes, token_headers a tuple of bytes, prefix a str. */
static PyObject *
headers_answer(WarmIndex *self, PyObject *headers, PyObject *authorization, PyObject *token_headers,
               PyObject *prefix)
{
    if (!PyList_CheckExact(headers)) {
        Py_RETURN_FALSE;
    }
    PyObject *found = NULL;  /* borrowed from the list, which nothing below can change */
    Py_ssize_t count = PyList_GET_SIZE(headers), names = PyTuple_GET_SIZE(token_headers);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *pair = PyList_GET_ITEM(headers, i);
        if (!PyTuple_CheckExact(pair) || PyTuple_GET_SIZE(pair) != 2) {
            Py_RETURN_FALSE;
        }
        PyObject *name = PyTuple_GET_ITEM(pair, 0), *value = PyTuple_GET_ITEM(pair, 1);
        if (!PyBytes_CheckExact(name) || !PyBytes_CheckExact(value)) {
            Py_RETURN_FALSE;
        }
        if (same_bytes(name, authorization)) {
            if (found != NULL) {
                Py_RETURN_FALSE;  /* duplicated */
            }
            found = value;
            continue;
        }
        for (Py_ssize_t j = 0; j < names; j++) {
            if (same_bytes(name, PyTuple_GET_ITEM(token_headers, j))) {
                Py_RETURN_FALSE;
            }
        }
    }
    if (found == NULL) {
        const char *unused;
        if (prefix_bytes(prefix, &unused) < 0) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    Py_INCREF(found);
    PyObject *info = bearer_answer(self, PyBytes_AS_STRING(found), PyBytes_GET_SIZE(found), prefix);
    Py_DECREF(found);
    return info;
}

/* -1 with a TypeError unless authorization is bytes and token_headers a tuple of bytes. */
static int
check_header_names(PyObject *authorization, PyObject *token_headers, const char *who)
{
    if (!PyBytes_CheckExact(authorization) || !PyTuple_CheckExact(token_headers)) {
        PyErr_Format(PyExc_TypeError, "%s: authorization is bytes, token_headers a tuple", who);
        return -1;
    }
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(token_headers); j++) {
        if (!PyBytes_CheckExact(PyTuple_GET_ITEM(token_headers, j))) {
            PyErr_Format(PyExc_TypeError, "%s: token_headers holds bytes", who);
            return -1;
        }
    }
    return 0;
}

/* find_in_headers(headers, authorization, token_headers, prefix): the ASGI middleware's common case.
 *
 * headers is the scope's list of (name, value) bytes pairs. The answer is the info of a single
 * `authorization: Bearer <token>` whose token is cached, fresh and alive; None when neither
 * `authorization` nor any of the token_headers names is present (an anonymous request); and False
 * for everything else (a repeated or other credential header, another scheme or spelling, another
 * shape of headers, a token not warm here), which the Python path then decides from the start. */
static PyObject *
WarmIndex_find_in_headers(WarmIndex *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (!initialised(self)) {
        return NULL;
    }
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError,
                        "find_in_headers() takes four arguments: headers, authorization, token_headers, prefix");
        return NULL;
    }
    if (check_header_names(args[1], args[2], "find_in_headers()") < 0) {
        return NULL;
    }
    return headers_answer(self, args[0], args[1], args[2], args[3]);
}

static int
WarmIndex_init(WarmIndex *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"key", "digest_size", "entries", "entry_type", NULL};
    Py_buffer key;
    Py_ssize_t digest_size;
    PyObject *entries, *entry_type;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "y*nO!O!:WarmIndex", names, &key, &digest_size,
                                     &PyDict_Type, &entries, &PyType_Type, &entry_type)) {
        return -1;
    }
    if (key.len < 1 || key.len > BLAKE2S_KEY || digest_size < 1 || digest_size > BLAKE2S_OUT) {
        PyBuffer_Release(&key);
        PyErr_SetString(PyExc_ValueError, "WarmIndex: key of 1 to 32 bytes, digest_size of 1 to 32");
        return -1;
    }
    PyTypeObject *type = (PyTypeObject *)entry_type;
    Py_ssize_t at_deadline = slot_offset(type, "deadline"), at_fresh_until = -1, at_info = -1;
    if (at_deadline >= 0) {
        at_fresh_until = slot_offset(type, "fresh_until");
    }
    if (at_fresh_until >= 0) {
        at_info = slot_offset(type, "info");
    }
    PyObject *move_to_end = at_info < 0 ? NULL : PyObject_GetAttrString(entries, "move_to_end");
    if (move_to_end == NULL) {
        PyBuffer_Release(&key);
        return -1;
    }
    blake2s_keyed(self->keyed, key.buf, key.len, digest_size);
    PyBuffer_Release(&key);
    self->digest_size = digest_size;
    self->at_deadline = at_deadline;
    self->at_fresh_until = at_fresh_until;
    self->at_info = at_info;
    Py_XSETREF(self->entry_type, (PyTypeObject *)Py_NewRef(entry_type));
    Py_XSETREF(self->entries, Py_NewRef(entries));
    Py_XSETREF(self->move_to_end, move_to_end);
    return 0;
}

static int
WarmIndex_traverse(WarmIndex *self, visitproc visit, void *arg)
{
    Py_VISIT(self->entry_type);
    Py_VISIT(self->entries);
    Py_VISIT(self->move_to_end);
    return 0;
}

static int
WarmIndex_clear(WarmIndex *self)
{
    Py_CLEAR(self->entry_type);
    Py_CLEAR(self->entries);
    Py_CLEAR(self->move_to_end);
    return 0;
}

static void
WarmIndex_dealloc(WarmIndex *self)
{
    PyObject_GC_UnTrack(self);
    WarmIndex_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef WarmIndex_methods[] = {
    {"find", (PyCFunction)(void (*)(void))WarmIndex_find, METH_FASTCALL,
     "find(token, prefix, /): the TokenInfo of a cached, fresh, alive token; None otherwise."},
    {"find_in_headers", (PyCFunction)(void (*)(void))WarmIndex_find_in_headers, METH_FASTCALL,
     "find_in_headers(headers, authorization, token_headers, prefix, /): a warm token's TokenInfo "
     "from ASGI headers; None without credential headers; False when Python must decide."},
    {"digest", (PyCFunction)WarmIndex_digest, METH_O,
     "digest(data, /): the probe digest of 1 to 64 bytes, as the index computes it for a token."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef WarmIndex_members[] = {
    {"probes", T_ULONGLONG, offsetof(WarmIndex, probes), READONLY,
     "How many probe digests this index computed (tokens that passed the shape checks)."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject WarmIndexType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tokenguard._speedups.WarmIndex",
    .tp_doc = "The verification cache's warm hit, in one C call.",
    .tp_basicsize = sizeof(WarmIndex),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)WarmIndex_init,
    .tp_dealloc = (destructor)WarmIndex_dealloc,
    .tp_traverse = (traverseproc)WarmIndex_traverse,
    .tp_clear = (inquiry)WarmIndex_clear,
    .tp_methods = WarmIndex_methods,
    .tp_members = WarmIndex_members,
};

/* -- the conditions of the readers below ---------------------------------------------------- */

/* The compiled readers answer only while guard.clock is `clock` (the pytest plugin may replace it
 * on a guard already in use), guard.cache is `cache` (the one whose index they read) and
 * `hooks`, pluggy's live list of before_authenticate implementations (the limiter's), is
 * empty: Python answers every other request. */
typedef struct {
    PyObject *guard, *clock, *cache, *hooks;
} Preconditions;

static PyObject *s_clock, *s_cache;

/* 1 when getattr(guard, name) is `expected`, 0 if not, -1 on error. */
static int
attribute_is(PyObject *guard, PyObject *name, PyObject *expected)
{
    PyObject *found = PyObject_GetAttr(guard, name);
    if (found == NULL) {
        return -1;
    }
    Py_DECREF(found);  /* only its identity is compared: `expected` keeps its own reference */
    return found == expected;
}

/* 1 when they hold, 0 if not, -1 on error. */
static int
preconditions_hold(const Preconditions *when)
{
    if (!PyList_CheckExact(when->hooks) || PyList_GET_SIZE(when->hooks) != 0) {
        return 0;
    }
    int holds = attribute_is(when->guard, s_clock, when->clock);
    return holds <= 0 ? holds : attribute_is(when->guard, s_cache, when->cache);
}

static void
preconditions_set(Preconditions *when, PyObject *guard, PyObject *clock, PyObject *cache, PyObject *hooks)
{
    Py_XSETREF(when->guard, Py_NewRef(guard));
    Py_XSETREF(when->clock, Py_NewRef(clock));
    Py_XSETREF(when->cache, Py_NewRef(cache));
    Py_XSETREF(when->hooks, Py_NewRef(hooks));
}

static int
preconditions_traverse(const Preconditions *when, visitproc visit, void *arg)
{
    Py_VISIT(when->guard);
    Py_VISIT(when->clock);
    Py_VISIT(when->cache);
    Py_VISIT(when->hooks);
    return 0;
}

static void
preconditions_clear(Preconditions *when)
{
    Py_CLEAR(when->guard);
    Py_CLEAR(when->clock);
    Py_CLEAR(when->cache);
    Py_CLEAR(when->hooks);
}

/* -- ScopeReader: the ASGI middleware's whole common case ----------------------------------- */

/* ScopeReader(index, authorization, token_headers, prefix, mounts, mark_key, mark_value, principal_type,
 *             info_type, guard, clock, cache, hooks).read(scope)
 *
 * What TokenGuardMiddleware decides in Python before it calls the app, for an ordinary request:
 * an "http" scope without a root_path, whose path starts with none of `mounts` (the web layer's
 * paths), while the preconditions above hold. For such a scope whose headers find_in_headers
 * answers with a warm, non-admin token's info, it puts the token's principal (principal_type,
 * TokenPrincipal, made as principal_of says) in scope["auth"] and scope["user"], marks the scope
 * (mark_value under mark_key) and answers True; without credential headers it marks the scope
 * and answers None. A scope answered False is left untouched: the Python path then decides from
 * the start. */
typedef struct {
    PyObject_HEAD
    WarmIndex *index;
    PyObject *authorization;  /* bytes: the credential header's lower-case name */
    PyObject *token_headers;  /* tuple of bytes: the other credential headers' names */
    PyObject *prefix;         /* str */
    PyObject *mounts;         /* tuple of str */
    PyObject *mark_key, *mark_value;
    PyTypeObject *principal_type;  /* TokenPrincipal: made here for a warm token, its slots filled */
    Py_ssize_t at_token, at_effective, at_listed;
    PyTypeObject *info_type;       /* TokenInfo: its admin and effective_scopes slots, read in place */
    Py_ssize_t at_admin, at_scopes;
    Preconditions when;
} ScopeReader;

static PyObject *s_type, *s_http, *s_root_path, *s_path, *s_headers, *s_auth, *s_user;


/* What TokenPrincipal(info, info.effective_scopes) makes, without running Python: the type's
 * tp_alloc (as object.__new__ does), then its three slots. False (a new reference) when Python
 * must make it: an admin token (whose scopes are the configured ones) or anything unusual. */
static PyObject *
principal_of(ScopeReader *self, PyObject *info)
{
    if (Py_TYPE(info) != self->info_type) {
        Py_RETURN_FALSE;
    }
    PyObject *admin = slot_at(info, self->at_admin), *scopes = slot_at(info, self->at_scopes);
    if (admin != Py_False || scopes == NULL || !PyFrozenSet_CheckExact(scopes)) {
        Py_RETURN_FALSE;
    }
    PyObject *principal = self->principal_type->tp_alloc(self->principal_type, 0);
    if (principal == NULL) {
        return NULL;
    }
    *(PyObject **)((char *)principal + self->at_token) = Py_NewRef(info);
    *(PyObject **)((char *)principal + self->at_effective) = Py_NewRef(scopes);
    *(PyObject **)((char *)principal + self->at_listed) = Py_NewRef(Py_None);
    return principal;
}

/* 1 when scope[name] is exactly a str equal to text (an interned str, compared by identity
 * first); 0 when it is absent or anything else; -1 on error. */
static int
item_is(PyObject *scope, PyObject *name, PyObject *text)
{
    PyObject *value = PyDict_GetItemWithError(scope, name);  /* borrowed */
    if (value == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (value == text) {
        return 1;
    }
    return PyUnicode_CheckExact(value) && PyUnicode_Compare(value, text) == 0;
}

/* 1 when the request is one the compiled path may answer (see above), 0 if not, -1 on error. */
static int
ordinary(ScopeReader *self, PyObject *scope)
{
    if (!PyDict_CheckExact(scope)) {
        return 0;
    }
    int http = item_is(scope, s_type, s_http);
    if (http <= 0) {
        return http;
    }
    PyObject *root_path = PyDict_GetItemWithError(scope, s_root_path);  /* borrowed */
    if (root_path != NULL) {
        if (!PyUnicode_CheckExact(root_path) || PyUnicode_GET_LENGTH(root_path) != 0) {
            return 0;
        }
    } else if (PyErr_Occurred()) {
        return -1;
    }
    PyObject *path = PyDict_GetItemWithError(scope, s_path);  /* borrowed */
    if (path == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (!PyUnicode_CheckExact(path)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->mounts); i++) {
        Py_ssize_t starts = PyUnicode_Tailmatch(path, PyTuple_GET_ITEM(self->mounts, i), 0, PY_SSIZE_T_MAX, -1);
        if (starts != 0) {
            return starts < 0 ? -1 : 0;
        }
    }
    return preconditions_hold(&self->when);
}

static PyObject *
ScopeReader_read(ScopeReader *self, PyObject *scope)
{
    if (self->index == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ScopeReader was not initialised");
        return NULL;
    }
    int answers = ordinary(self, scope);
    if (answers <= 0) {
        if (answers < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    PyObject *headers = PyDict_GetItemWithError(scope, s_headers);  /* borrowed */
    if (headers == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    Py_INCREF(headers);
    PyObject *answer = headers_answer(self->index, headers, self->authorization, self->token_headers,
                                      self->prefix);
    Py_DECREF(headers);
    if (answer == NULL || answer == Py_False) {
        return answer;
    }
    if (answer != Py_None) {  /* a warm token's info: its principal, in scope["auth"] and ["user"] */
        PyObject *principal = principal_of(self, answer);
        Py_DECREF(answer);
        if (principal == NULL || principal == Py_False) {
            return principal;
        }
        int failed = PyDict_SetItem(scope, s_auth, principal) < 0 || PyDict_SetItem(scope, s_user, principal) < 0;
        Py_DECREF(principal);
        if (failed) {
            return NULL;
        }
        answer = Py_NewRef(Py_True);
    }
    if (PyDict_SetItem(scope, self->mark_key, self->mark_value) < 0) {
        Py_DECREF(answer);
        return NULL;
    }
    return answer;
}

static int
ScopeReader_init(ScopeReader *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"index", "authorization", "token_headers", "prefix", "mounts", "mark_key",
                            "mark_value", "principal_type", "info_type", "guard", "clock", "cache", "hooks",
                            NULL};
    PyObject *index, *authorization, *token_headers, *prefix, *mounts, *mark_key, *mark_value, *principal_type,
        *info_type, *guard, *clock, *cache, *hooks;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!OOUO!OOO!O!OOOO:ScopeReader", names, &WarmIndexType, &index,
                                     &authorization, &token_headers, &prefix, &PyTuple_Type, &mounts, &mark_key,
                                     &mark_value, &PyType_Type, &principal_type, &PyType_Type, &info_type, &guard,
                                     &clock, &cache, &hooks)) {
        return -1;
    }
    PyTypeObject *principal = (PyTypeObject *)principal_type, *info = (PyTypeObject *)info_type;
    PyTypeObject *owners[5] = {principal, principal, principal, info, info};
    const char *slots[5] = {"token", "_effective", "_listed", "admin", "effective_scopes"};
    Py_ssize_t offsets[5];
    for (int i = 0; i < 5; i++) {
        offsets[i] = slot_offset(owners[i], slots[i]);
        if (offsets[i] < 0) {
            return -1;
        }
    }
    if (!initialised((WarmIndex *)index) || check_header_names(authorization, token_headers, "ScopeReader") < 0) {
        return -1;
    }
    const char *unused;
    if (prefix_bytes(prefix, &unused) < 0) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mounts); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(mounts, i))) {
            PyErr_SetString(PyExc_TypeError, "ScopeReader: mounts holds str");
            return -1;
        }
    }
    Py_XSETREF(self->authorization, Py_NewRef(authorization));
    Py_XSETREF(self->token_headers, Py_NewRef(token_headers));
    Py_XSETREF(self->prefix, Py_NewRef(prefix));
    Py_XSETREF(self->mounts, Py_NewRef(mounts));
    Py_XSETREF(self->mark_key, Py_NewRef(mark_key));
    Py_XSETREF(self->mark_value, Py_NewRef(mark_value));
    self->at_token = offsets[0];
    self->at_effective = offsets[1];
    self->at_listed = offsets[2];
    self->at_admin = offsets[3];
    self->at_scopes = offsets[4];
    Py_XSETREF(self->principal_type, (PyTypeObject *)Py_NewRef(principal_type));
    Py_XSETREF(self->info_type, (PyTypeObject *)Py_NewRef(info_type));
    preconditions_set(&self->when, guard, clock, cache, hooks);
    Py_XSETREF(self->index, (WarmIndex *)Py_NewRef(index));  /* last: read() checks it */
    return 0;
}

static int
ScopeReader_traverse(ScopeReader *self, visitproc visit, void *arg)
{
    Py_VISIT(self->principal_type);
    Py_VISIT(self->info_type);
    Py_VISIT(self->index);
    Py_VISIT(self->authorization);
    Py_VISIT(self->token_headers);
    Py_VISIT(self->prefix);
    Py_VISIT(self->mounts);
    Py_VISIT(self->mark_key);
    Py_VISIT(self->mark_value);
    return preconditions_traverse(&self->when, visit, arg);
}

static int
ScopeReader_clear(ScopeReader *self)
{
    Py_CLEAR(self->index);
    Py_CLEAR(self->authorization);
    Py_CLEAR(self->token_headers);
    Py_CLEAR(self->prefix);
    Py_CLEAR(self->mounts);
    Py_CLEAR(self->mark_key);
    Py_CLEAR(self->mark_value);
    Py_CLEAR(self->principal_type);
    Py_CLEAR(self->info_type);
    preconditions_clear(&self->when);
    return 0;
}

static void
ScopeReader_dealloc(ScopeReader *self)
{
    PyObject_GC_UnTrack(self);
    ScopeReader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef ScopeReader_methods[] = {
    {"read", (PyCFunction)ScopeReader_read, METH_O,
     "read(scope, /): a warm token's TokenInfo for an ordinary http scope (marked); None without "
     "credential headers; False when Python must decide."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ScopeReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tokenguard._speedups.ScopeReader",
    .tp_doc = "The ASGI middleware's common case, from the scope to a warm token, in one C call.",
    .tp_basicsize = sizeof(ScopeReader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)ScopeReader_init,
    .tp_dealloc = (destructor)ScopeReader_dealloc,
    .tp_traverse = (traverseproc)ScopeReader_traverse,
    .tp_clear = (inquiry)ScopeReader_clear,
    .tp_methods = ScopeReader_methods,
};

/* -- EnvironReader: the Flask extension's common case --------------------------------------- */

/* EnvironReader(index, authorization_key, token_keys, prefix, guard, clock, cache, hooks).read(environ)
 *
 * What the extension's before_request decides in Python, from a WSGI environ, while the same
 * preconditions hold: the info of a warm token in a single `Bearer` authorization (the environ
 * holds one value per header: WSGI servers join repeated ones, which then fail the shape checks);
 * None when neither the authorization key nor any of token_keys is in the environ; False for
 * everything else (another scheme or spelling, a token header, a token not warm here), which
 * Python then decides from the start. The environ is only read. */
typedef struct {
    PyObject_HEAD
    WarmIndex *index;
    PyObject *authorization_key;  /* str: "HTTP_AUTHORIZATION" */
    PyObject *token_keys;         /* tuple of str: the other credential headers' environ keys */
    PyObject *prefix;             /* str */
    Preconditions when;
} EnvironReader;

static PyObject *
EnvironReader_read(EnvironReader *self, PyObject *environ)
{
    if (self->index == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "EnvironReader was not initialised");
        return NULL;
    }
    if (!PyDict_CheckExact(environ)) {
        Py_RETURN_FALSE;
    }
    int holds = preconditions_hold(&self->when);
    if (holds <= 0) {
        if (holds < 0) {
            return NULL;
        }
        Py_RETURN_FALSE;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->token_keys); i++) {
        int present = PyDict_Contains(environ, PyTuple_GET_ITEM(self->token_keys, i));
        if (present != 0) {
            if (present < 0) {
                return NULL;
            }
            Py_RETURN_FALSE;
        }
    }
    PyObject *value = PyDict_GetItemWithError(environ, self->authorization_key);  /* borrowed */
    if (value == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    if (!PyUnicode_CheckExact(value)) {
        Py_RETURN_FALSE;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(value) < 0) {
        return NULL;
    }
#endif
    if (!PyUnicode_IS_ASCII(value)) {
        Py_RETURN_FALSE;
    }
    Py_INCREF(value);
    PyObject *info = bearer_answer(self->index, (const char *)PyUnicode_1BYTE_DATA(value),
                                   PyUnicode_GET_LENGTH(value), self->prefix);
    Py_DECREF(value);
    return info;
}

static int
EnvironReader_init(EnvironReader *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"index", "authorization_key", "token_keys", "prefix", "guard", "clock", "cache",
                            "hooks", NULL};
    PyObject *index, *authorization_key, *token_keys, *prefix, *guard, *clock, *cache, *hooks;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!UO!UOOOO:EnvironReader", names, &WarmIndexType, &index,
                                     &authorization_key, &PyTuple_Type, &token_keys, &prefix, &guard, &clock,
                                     &cache, &hooks)) {
        return -1;
    }
    if (!initialised((WarmIndex *)index)) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(token_keys); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(token_keys, i))) {
            PyErr_SetString(PyExc_TypeError, "EnvironReader: token_keys holds str");
            return -1;
        }
    }
    const char *unused;
    if (prefix_bytes(prefix, &unused) < 0) {
        return -1;
    }
    Py_XSETREF(self->authorization_key, Py_NewRef(authorization_key));
    Py_XSETREF(self->token_keys, Py_NewRef(token_keys));
    Py_XSETREF(self->prefix, Py_NewRef(prefix));
    preconditions_set(&self->when, guard, clock, cache, hooks);
    Py_XSETREF(self->index, (WarmIndex *)Py_NewRef(index));  /* last: read() checks it */
    return 0;
}

static int
EnvironReader_traverse(EnvironReader *self, visitproc visit, void *arg)
{
    Py_VISIT(self->index);
    Py_VISIT(self->authorization_key);
    Py_VISIT(self->token_keys);
    Py_VISIT(self->prefix);
    return preconditions_traverse(&self->when, visit, arg);
}

static int
EnvironReader_clear(EnvironReader *self)
{
    Py_CLEAR(self->index);
    Py_CLEAR(self->authorization_key);
    Py_CLEAR(self->token_keys);
    Py_CLEAR(self->prefix);
    preconditions_clear(&self->when);
    return 0;
}

static void
EnvironReader_dealloc(EnvironReader *self)
{
    PyObject_GC_UnTrack(self);
    EnvironReader_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef EnvironReader_methods[] = {
    {"read", (PyCFunction)EnvironReader_read, METH_O,
     "read(environ, /): a warm token's TokenInfo; None without credential headers; False when "
     "Python must decide."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject EnvironReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tokenguard._speedups.EnvironReader",
    .tp_doc = "The Flask extension's common case, from the WSGI environ to a warm token, in one C call.",
    .tp_basicsize = sizeof(EnvironReader),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)EnvironReader_init,
    .tp_dealloc = (destructor)EnvironReader_dealloc,
    .tp_traverse = (traverseproc)EnvironReader_traverse,
    .tp_clear = (inquiry)EnvironReader_clear,
    .tp_methods = EnvironReader_methods,
};

/* -- TokenDigester: checksum, then HMAC-SHA256 -------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *inner;      /* hashlib.sha256 of the key XOR ipad: copied for each token */
    PyObject *outer;      /* hashlib.sha256 of the key XOR opad */
    PyObject *hexdigest;  /* type(inner).hexdigest, set by init last */
    HashCalls calls;      /* type(inner)'s copy, update and digest */
} TokenDigester;

static uint32_t
crc32_of(const unsigned char *data, Py_ssize_t length)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (Py_ssize_t i = 0; i < length; i++) {
        crc = crc_table[(crc ^ data[i]) & 0xFFu] ^ (crc >> 8);
    }
    return crc ^ 0xFFFFFFFFu;
}

/* True when the last 6 characters of data[0:length] spell, in base62, the CRC32 of the 32 before. */
static int
checksum_matches(const unsigned char *data, Py_ssize_t length)
{
    if (length < RANDOM_LENGTH + CHECKSUM_LENGTH) {
        return 0;
    }
    const unsigned char *check = data + length - CHECKSUM_LENGTH;
    uint64_t spelled = 0;
    for (int i = 0; i < CHECKSUM_LENGTH; i++) {
        unsigned char value = base62[check[i]];
        if (!value) {
            return 0;
        }
        spelled = spelled * 62 + (uint64_t)(value - 1);
    }
    return spelled == crc32_of(check - RANDOM_LENGTH, RANDOM_LENGTH);
}

static PyObject *
TokenDigester_checked_digest(TokenDigester *self, PyObject *canonical)
{
    if (self->hexdigest == NULL) {  /* set by init last, once everything else is */
        PyErr_SetString(PyExc_RuntimeError, "TokenDigester was not initialised");
        return NULL;
    }
    if (!PyUnicode_CheckExact(canonical)) {
        PyErr_SetString(PyExc_TypeError, "checked_digest() takes a str");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(canonical) < 0) {
        return NULL;
    }
#endif
    if (!PyUnicode_IS_ASCII(canonical)) {
        Py_RETURN_NONE;  /* no canonical token: the Python path says why */
    }
    const unsigned char *data = PyUnicode_1BYTE_DATA(canonical);
    Py_ssize_t length = PyUnicode_GET_LENGTH(canonical);
    if (!checksum_matches(data, length)) {
        Py_RETURN_NONE;
    }
    PyObject *view = PyMemoryView_FromMemory((char *)data, length, PyBUF_READ);
    if (view == NULL) {
        return NULL;
    }
    PyObject *inner = hashed(&self->calls, self->inner, view, self->calls.digest);
    Py_DECREF(view);
    if (inner == NULL) {
        return NULL;
    }
    PyObject *result = hashed(&self->calls, self->outer, inner, self->hexdigest);
    Py_DECREF(inner);
    return result;
}

static int
TokenDigester_init(TokenDigester *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"inner", "outer", NULL};
    PyObject *inner, *outer;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:TokenDigester", names, &inner, &outer)) {
        return -1;
    }
    if (Py_TYPE(inner) != Py_TYPE(outer)) {
        PyErr_SetString(PyExc_TypeError, "inner and outer must be hash objects of one type");
        return -1;
    }
    PyObject *hexdigest = PyObject_GetAttrString((PyObject *)Py_TYPE(inner), "hexdigest");
    if (hexdigest == NULL || hash_calls_init(&self->calls, inner) < 0) {
        Py_XDECREF(hexdigest);
        return -1;
    }
    Py_XSETREF(self->inner, Py_NewRef(inner));
    Py_XSETREF(self->outer, Py_NewRef(outer));
    Py_XSETREF(self->hexdigest, hexdigest);
    return 0;
}

static int
TokenDigester_traverse(TokenDigester *self, visitproc visit, void *arg)
{
    Py_VISIT(self->inner);
    Py_VISIT(self->outer);
    Py_VISIT(self->hexdigest);
    return hash_calls_traverse(&self->calls, visit, arg);
}

static int
TokenDigester_clear(TokenDigester *self)
{
    Py_CLEAR(self->inner);
    Py_CLEAR(self->outer);
    Py_CLEAR(self->hexdigest);
    hash_calls_clear(&self->calls);
    return 0;
}

static void
TokenDigester_dealloc(TokenDigester *self)
{
    PyObject_GC_UnTrack(self);
    TokenDigester_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef TokenDigester_methods[] = {
    {"checked_digest", (PyCFunction)TokenDigester_checked_digest, METH_O,
     "checked_digest(canonical, /): the token's HMAC-SHA256 in hex; None when its checksum "
     "does not match."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TokenDigesterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tokenguard._speedups.TokenDigester",
    .tp_doc = "A canonical token's checksum, then its HMAC-SHA256, in one C call.",
    .tp_basicsize = sizeof(TokenDigester),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)TokenDigester_init,
    .tp_dealloc = (destructor)TokenDigester_dealloc,
    .tp_traverse = (traverseproc)TokenDigester_traverse,
    .tp_clear = (inquiry)TokenDigester_clear,
    .tp_methods = TokenDigester_methods,
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tokenguard._speedups",
    .m_doc = "The compiled warm-cache hit of TokenGuard.authenticate_cached, and the checksum + HMAC of a miss.",
    .m_size = -1,
};

static int
intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__speedups(void)
{
    const char *alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for (const char *c = alphabet; *c; c++) {
        base62[(unsigned char)*c] = (unsigned char)(1 + (c - alphabet));
    }
    for (uint32_t byte = 0; byte < 256; byte++) {
        uint32_t crc = byte;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1u) ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
        }
        crc_table[byte] = crc;
    }
    if (intern(&s_type, "type") < 0 || intern(&s_http, "http") < 0
        || intern(&s_root_path, "root_path") < 0 || intern(&s_path, "path") < 0
        || intern(&s_headers, "headers") < 0 || intern(&s_clock, "clock") < 0
        || intern(&s_cache, "cache") < 0 || intern(&s_auth, "auth") < 0 || intern(&s_user, "user") < 0) {
        return NULL;
    }
    if (PyType_Ready(&WarmIndexType) < 0 || PyType_Ready(&ScopeReaderType) < 0
        || PyType_Ready(&EnvironReaderType) < 0 || PyType_Ready(&TokenDigesterType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "WarmIndex", (PyObject *)&WarmIndexType) < 0
        || PyModule_AddObjectRef(module, "ScopeReader", (PyObject *)&ScopeReaderType) < 0
        || PyModule_AddObjectRef(module, "EnvironReader", (PyObject *)&EnvironReaderType) < 0
        || PyModule_AddObjectRef(module, "TokenDigester", (PyObject *)&TokenDigesterType) < 0
        || PyModule_AddIntConstant(module, "BODY_LENGTH", BODY_LENGTH) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
