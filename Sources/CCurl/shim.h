// libcurl's curl_easy_setopt and curl_easy_getinfo are C variadics, which Swift cannot call.
// These typed wrappers give Swift one entry point per argument type.
#include <curl/curl.h>

static inline CURLcode pcurl_setopt_long(CURL *h, CURLoption o, long v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pcurl_setopt_off(CURL *h, CURLoption o, curl_off_t v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pcurl_setopt_string(CURL *h, CURLoption o, const char *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pcurl_setopt_pointer(CURL *h, CURLoption o, void *v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pcurl_setopt_slist(CURL *h, CURLoption o, struct curl_slist *v) { return curl_easy_setopt(h, o, v); }
typedef size_t (*pcurl_data_callback)(char *ptr, size_t size, size_t nmemb, void *userdata);
static inline CURLcode pcurl_setopt_callback(CURL *h, CURLoption o, pcurl_data_callback v) { return curl_easy_setopt(h, o, v); }
static inline CURLcode pcurl_getinfo_long(CURL *h, CURLINFO i, long *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode pcurl_getinfo_off(CURL *h, CURLINFO i, curl_off_t *v) { return curl_easy_getinfo(h, i, v); }
static inline CURLcode pcurl_getinfo_string(CURL *h, CURLINFO i, char **v) { return curl_easy_getinfo(h, i, v); }
// CURLOPT_CAINFO_BLOB and the like: the bytes are copied by libcurl (CURL_BLOB_COPY).
static inline CURLcode pcurl_setopt_blob(CURL *h, CURLoption o, const void *data, size_t len) {
    struct curl_blob b = { (void *)data, len, CURL_BLOB_COPY };
    return curl_easy_setopt(h, o, &b);
}
