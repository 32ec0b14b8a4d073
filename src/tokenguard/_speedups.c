/* tokenguard._speedups: the warm-cache hit of TokenGuard.authenticate_cached in one C call.
 *
 * WarmIndex(prober, entries).find(token, prefix) answers what the pure-Python hot
 * path answers when a token is cached, fresh and alive, and None in every other case
 * (the caller then runs the Python path, which decides and refuses with its hooks):
 *
 *   1. token is exactly bytes, or an ASCII str; length, "{prefix}_" and the base62
 *      alphabet of the body are checked before anything is hashed;
 *   2. its keyed BLAKE2s probe digest, by hashlib's own object (prober.copy(),
 *      .update(), .digest(), looked up once): no cryptography is written here;
 *   3. the entry filed under that digest in the cache's OrderedDict, if its
 *      deadline is after time.monotonic() and its fresh_until after time.time();
 *   4. the entry moved to the LRU end; its TokenInfo returned.
 *
 * Nothing is copied into a fixed buffer: the token is only read, within its length.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <time.h>

#define BODY_LENGTH 38
#define MAX_PREFIX 16

static unsigned char base62[256];
static PyObject *s_deadline, *s_fresh_until, *s_info;

typedef struct {
    PyObject_HEAD
    PyObject *prober;       /* keyed hashlib.blake2s: copied for each probe */
    PyObject *entries;      /* OrderedDict: probe digest -> CachedToken */
    /* looked up once, not by name at every call */
    PyObject *copy;         /* prober.copy */
    PyObject *update;       /* type(prober).update */
    PyObject *digest;       /* type(prober).digest */
    PyObject *move_to_end;  /* entries.move_to_end */
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

static int
read_float(PyObject *entry, PyObject *name, double *value)
{
    PyObject *found = PyObject_GetAttr(entry, name);
    if (found == NULL) {
        return -1;
    }
    *value = PyFloat_AsDouble(found);
    Py_DECREF(found);
    return (*value == -1.0 && PyErr_Occurred()) ? -1 : 0;
}

/* The keyed digest of data[0:length]: hashlib does the hashing. NULL with an exception set. */
static PyObject *
probe(WarmIndex *self, PyObject *token, const char *data, Py_ssize_t length)
{
    PyObject *hashed = PyObject_CallNoArgs(self->copy);
    if (hashed == NULL) {
        return NULL;
    }
    PyObject *view = token;
    if (!PyBytes_CheckExact(token)) {  /* an ASCII str: its bytes, read in place */
        view = PyMemoryView_FromMemory((char *)data, length, PyBUF_READ);
        if (view == NULL) {
            Py_DECREF(hashed);
            return NULL;
        }
    } else {
        Py_INCREF(view);
    }
    PyObject *update_args[2] = {hashed, view};
    PyObject *done = PyObject_Vectorcall(self->update, update_args, 2, NULL);
    Py_DECREF(view);
    if (done == NULL) {
        Py_DECREF(hashed);
        return NULL;
    }
    Py_DECREF(done);
    PyObject *digest = PyObject_CallOneArg(self->digest, hashed);
    Py_DECREF(hashed);
    return digest;
}

static PyObject *
WarmIndex_find(WarmIndex *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "find() takes exactly two arguments: token, prefix");
        return NULL;
    }
    PyObject *token = args[0], *prefix = args[1];
    if (!PyUnicode_CheckExact(prefix)) {
        PyErr_SetString(PyExc_TypeError, "find(): prefix must be a str");
        return NULL;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(prefix) < 0) {
        return NULL;
    }
#endif
    Py_ssize_t prefix_length = PyUnicode_GET_LENGTH(prefix);
    if (!PyUnicode_IS_ASCII(prefix) || prefix_length < 1 || prefix_length > MAX_PREFIX) {
        PyErr_SetString(PyExc_ValueError, "find(): prefix must be 1 to 16 ASCII characters");
        return NULL;
    }

    const char *data;
    Py_ssize_t length;
    if (PyBytes_CheckExact(token)) {
        data = PyBytes_AS_STRING(token);
        length = PyBytes_GET_SIZE(token);
    } else if (PyUnicode_CheckExact(token)) {
#if PY_VERSION_HEX < 0x030C0000
        if (PyUnicode_READY(token) < 0) {
            return NULL;
        }
#endif
        if (!PyUnicode_IS_ASCII(token)) {
            Py_RETURN_NONE;
        }
        data = (const char *)PyUnicode_1BYTE_DATA(token);
        length = PyUnicode_GET_LENGTH(token);
    } else {
        Py_RETURN_NONE;
    }

    /* SECURITY.md 3: length and alphabet before any hashing. */
    if (length != prefix_length + 1 + BODY_LENGTH) {
        Py_RETURN_NONE;
    }
    if (memcmp(data, PyUnicode_1BYTE_DATA(prefix), (size_t)prefix_length) != 0
        || data[prefix_length] != '_') {
        Py_RETURN_NONE;
    }
    for (Py_ssize_t i = prefix_length + 1; i < length; i++) {
        if (!base62[(unsigned char)data[i]]) {
            Py_RETURN_NONE;
        }
    }

    PyObject *key = probe(self, token, data, length);
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
    if (read_float(entry, s_deadline, &deadline) < 0 || clock_seconds(CLOCK_MONOTONIC, &now) < 0) {
        goto done;
    }
    if (!(deadline > now)) {  /* older than the TTL: the Python path drops it */
        info = Py_NewRef(Py_None);
        goto done;
    }
    if (read_float(entry, s_fresh_until, &fresh_until) < 0 || clock_seconds(CLOCK_REALTIME, &now) < 0) {
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
    info = PyObject_GetAttr(entry, s_info);
done:
    Py_DECREF(entry);
    Py_DECREF(key);
    return info;
}

static int
WarmIndex_init(WarmIndex *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"prober", "entries", NULL};
    PyObject *prober, *entries;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO!:WarmIndex", names, &prober, &PyDict_Type, &entries)) {
        return -1;
    }
    PyObject *copy = PyObject_GetAttrString(prober, "copy");
    PyObject *update = PyObject_GetAttrString((PyObject *)Py_TYPE(prober), "update");
    PyObject *digest = PyObject_GetAttrString((PyObject *)Py_TYPE(prober), "digest");
    PyObject *move_to_end = PyObject_GetAttrString(entries, "move_to_end");
    if (copy == NULL || update == NULL || digest == NULL || move_to_end == NULL) {
        Py_XDECREF(copy);
        Py_XDECREF(update);
        Py_XDECREF(digest);
        Py_XDECREF(move_to_end);
        return -1;
    }
    Py_XSETREF(self->prober, Py_NewRef(prober));
    Py_XSETREF(self->entries, Py_NewRef(entries));
    Py_XSETREF(self->copy, copy);
    Py_XSETREF(self->update, update);
    Py_XSETREF(self->digest, digest);
    Py_XSETREF(self->move_to_end, move_to_end);
    return 0;
}

static int
WarmIndex_traverse(WarmIndex *self, visitproc visit, void *arg)
{
    Py_VISIT(self->prober);
    Py_VISIT(self->entries);
    Py_VISIT(self->copy);
    Py_VISIT(self->update);
    Py_VISIT(self->digest);
    Py_VISIT(self->move_to_end);
    return 0;
}

static int
WarmIndex_clear(WarmIndex *self)
{
    Py_CLEAR(self->prober);
    Py_CLEAR(self->entries);
    Py_CLEAR(self->copy);
    Py_CLEAR(self->update);
    Py_CLEAR(self->digest);
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

static PyObject *
WarmIndex_find_checked(WarmIndex *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (self->move_to_end == NULL) {  /* init sets all six, or none */
        PyErr_SetString(PyExc_RuntimeError, "WarmIndex was not initialised");
        return NULL;
    }
    return WarmIndex_find(self, args, nargs);
}

static PyMethodDef WarmIndex_methods[] = {
    {"find", (PyCFunction)(void (*)(void))WarmIndex_find_checked, METH_FASTCALL,
     "find(token, prefix, /): the TokenInfo of a cached, fresh, alive token; None otherwise."},
    {NULL, NULL, 0, NULL},
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
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tokenguard._speedups",
    .m_doc = "The compiled warm-cache hit of TokenGuard.authenticate_cached.",
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
        base62[(unsigned char)*c] = 1;
    }
    if (intern(&s_deadline, "deadline") < 0 || intern(&s_fresh_until, "fresh_until") < 0
        || intern(&s_info, "info") < 0) {
        return NULL;
    }
    if (PyType_Ready(&WarmIndexType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "WarmIndex", (PyObject *)&WarmIndexType) < 0
        || PyModule_AddIntConstant(module, "BODY_LENGTH", BODY_LENGTH) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
