#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "crypto/es256.h"
#include "helpers.h"

static void test_sign_verify_roundtrip(void **state)
{
    struct cg_key *priv, *pub;
    unsigned char sig[64];
    bool valid;
    const char msg[] = "header.payload";
    (void)state;
    assert_int_equal(cg_key_load_file(&priv, th_file("sp-1234.key")), CG_OK);
    assert_true(cg_key_is_private(priv));
    assert_int_equal(cg_key_load_file(&pub, th_file("sp-1234-leaf.pem")), CG_OK);
    assert_false(cg_key_is_private(pub));
    assert_int_equal(cg_es256_sign(priv, msg, strlen(msg), sig), CG_OK);
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_true(valid);
    /* tampered message, tampered signature */
    assert_int_equal(cg_es256_verify(pub, "header.payloaD", 14, sig, &valid), CG_OK);
    assert_false(valid);
    /* a bad signature is a verdict: no OpenSSL error is left queued */
    assert_int_equal(ERR_peek_error(), 0);
    sig[10] ^= 1;
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_false(valid);
    /* r = s = 0 and all-ones are out of range: a verdict, not an error */
    memset(sig, 0, 64);
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_false(valid);
    memset(sig, 0xff, 64);
    assert_int_equal(cg_es256_verify(pub, msg, strlen(msg), sig, &valid), CG_OK);
    assert_false(valid);
    assert_int_equal(ERR_peek_error(), 0);
    /* a public key cannot sign */
    assert_int_equal(cg_es256_sign(pub, msg, strlen(msg), sig), CG_EKEY);
    cg_key_free(priv);
    cg_key_free(pub);
    cg_key_free(NULL);
}

/*
 * Signing with prepared nonces (fastsign.c): every signature verifies with
 * EVP, on fresh keys and across many batches; no r repeats, within a thread
 * or across threads; and a fork()ed child never signs with a nonce it
 * inherited.
 */
#define NONCE_SIGS 1500

struct signer_run {
    struct cg_key *priv, *pub;
    unsigned char r[NONCE_SIGS][32];
    int bad;
    unsigned long fast; /* of them signed with prepared nonces */
};

static struct cg_key *fresh_private(struct cg_key **pub)
{
    EVP_PKEY *pk = EVP_EC_gen("P-256");
    BIO *b = BIO_new(BIO_s_mem());
    char *pem;
    long n;
    struct cg_key *k;
    assert_non_null(pk);
    assert_int_equal(PEM_write_bio_PrivateKey(b, pk, NULL, NULL, 0, NULL, NULL), 1);
    n = BIO_get_mem_data(b, &pem);
    assert_int_equal(cg_key_load_pem(&k, pem, (size_t)n), CG_OK);
    BIO_free(b);
    b = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(b, pk), 1);
    n = BIO_get_mem_data(b, &pem);
    assert_int_equal(cg_key_load_pem(pub, pem, (size_t)n), CG_OK);
    BIO_free(b);
    EVP_PKEY_free(pk);
    return k;
}

static void *sign_many(void *arg)
{
    struct signer_run *run = arg;
    unsigned long fast0 = cg__es256_fast_signed();
    int i;
    for (i = 0; i < NONCE_SIGS; i++) {
        unsigned char msg[48], md[32], sig[64];
        bool valid = false;
        if (RAND_bytes(msg, sizeof msg) != 1 ||
            cg_es256_sign(run->priv, msg, sizeof msg, sig) != CG_OK) {
            run->bad++;
            continue;
        }
        SHA256(msg, sizeof msg, md);
        if (cg__es256_verify_digest_evp(run->pub, md, sig, &valid) != CG_OK || !valid)
            run->bad++;
        memcpy(run->r[i], sig, 32);
    }
    run->fast = cg__es256_fast_signed() - fast0;
    return NULL;
}

static int cmp32(const void *a, const void *b)
{
    return memcmp(a, b, 32);
}

static void test_prepared_nonces(void **state)
{
    static struct signer_run runs[3];
    static unsigned char all[3 * NONCE_SIGS][32];
    pthread_t t[3];
    int i;
    (void)state;
    runs[0].priv = fresh_private(&runs[0].pub);
    runs[1].priv = fresh_private(&runs[1].pub);
    assert_int_equal(cg_key_load_file(&runs[2].priv, th_file("sp-1234.key")), CG_OK);
    assert_int_equal(cg_key_load_file(&runs[2].pub, th_file("sp-1234-leaf.pem")), CG_OK);
    /* keys 0 and 2 on two threads at once, then key 1 on this thread */
    assert_int_equal(pthread_create(&t[0], NULL, sign_many, &runs[0]), 0);
    assert_int_equal(pthread_create(&t[2], NULL, sign_many, &runs[2]), 0);
    pthread_join(t[0], NULL);
    pthread_join(t[2], NULL);
    sign_many(&runs[1]);
    for (i = 0; i < 3; i++) {
        assert_int_equal(runs[i].bad, 0);
        /* the EVP fallback must not hide a fast path that never works */
        if (cg__es256_fast_sign_available())
            assert_int_equal(runs[i].fast, NONCE_SIGS);
        memcpy(all[i * NONCE_SIGS], runs[i].r, sizeof runs[i].r);
    }
    qsort(all, 3 * NONCE_SIGS, 32, cmp32);
    for (i = 1; i < 3 * NONCE_SIGS; i++)
        assert_int_not_equal(memcmp(all[i - 1], all[i], 32), 0);
    /* the EVP path alone, as a fallback, signs as well */
    {
        unsigned char md[32] = {1, 2, 3}, sig[64];
        bool valid = false;
        assert_int_equal(cg__es256_sign_digest_evp(runs[2].priv, md, sig), CG_OK);
        assert_int_equal(cg__es256_verify_digest_evp(runs[2].pub, md, sig, &valid), CG_OK);
        assert_true(valid);
    }
    for (i = 0; i < 3; i++) {
        cg_key_free(runs[i].priv);
        cg_key_free(runs[i].pub);
    }
}

static void test_prepared_nonces_fork(void **state)
{
    struct cg_key *priv, *pub;
    const char msg[] = "the same message on both sides";
    unsigned char parent[64], child[64], md[32];
    int fd[2], st, round;
    pid_t pid;
    bool valid = false;
    (void)state;
    priv = fresh_private(&pub);
    SHA256((const unsigned char *)msg, strlen(msg), md);
    /* a fork just after a batch was prepared, then one in the middle of
     * one, then a child made by the raw system call, which runs no
     * pthread_atfork handler */
    for (round = 0; round < 3; round++) {
        int i;
        for (i = 0; i <= round * 10; i++)
            assert_int_equal(cg_es256_sign(priv, msg, strlen(msg), parent), CG_OK);
        assert_int_equal(pipe(fd), 0);
        pid = round < 2 ? fork() : (pid_t)syscall(SYS_fork);
        assert_true(pid >= 0);
        if (pid == 0) {
            unsigned char sig[64];
            close(fd[0]);
            _exit(cg_es256_sign(priv, msg, strlen(msg), sig) == CG_OK && write(fd[1], sig, 64) == 64
                      ? 0
                      : 1);
        }
        close(fd[1]);
        assert_int_equal(cg_es256_sign(priv, msg, strlen(msg), parent), CG_OK);
        assert_int_equal(read(fd[0], child, 64), 64);
        close(fd[0]);
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        /* equal r would mean equal k: the key would follow from the two */
        assert_int_not_equal(memcmp(parent, child, 32), 0);
        assert_int_equal(cg__es256_verify_digest_evp(pub, md, child, &valid), CG_OK);
        assert_true(valid);
    }
    cg_key_free(priv);
    cg_key_free(pub);
}

static void test_wrong_key_kinds(void **state)
{
    static const char rsa_pub[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAMMV1Hp6+n9ww8aSaUxKgUO4T7ECGtdz\n"
        "CevLVmbSGk1OqNo9SiDn0DHvrwTAtmx4ugzaGygWKwY0xHiBcYAsq0MCAwEAAQ==\n"
        "-----END PUBLIC KEY-----\n";
    static const char p384_pub[] =
        "-----BEGIN PUBLIC KEY-----\n"
        "MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEv8EPPDsF1ET0mJ5hC9B3TWq4ZqVbgdR3\n"
        "9nXqbYVJ1fS3nXQ9p1VMZzYF6wQ5Tg0w4+R6kUIoGq0Yjv1R8jN4Q7yH8rXj8bb\n"
        "Wz1y0HlC9cBq3FzZpX0Hq2W8Dg9mYy8S1A==\n"
        "-----END PUBLIC KEY-----\n";
    struct cg_key *k = NULL;
    (void)state;
    assert_int_equal(cg_key_load_pem(&k, rsa_pub, sizeof rsa_pub - 1), CG_EKEY);
    assert_int_equal(cg_key_load_pem(&k, p384_pub, sizeof p384_pub - 1), CG_EKEY);
    assert_int_equal(cg_key_load_pem(&k, "garbage", 7), CG_EKEY);
    assert_null(k);
    assert_int_equal(cg_key_load_file(&k, "/nonexistent/key.pem"), CG_EIO);
}

static void test_public_pem(void **state)
{
    struct cg_key *k;
    char *pem;
    (void)state;
    assert_int_equal(cg_key_load_file(&k, th_file("sp-1234.key")), CG_OK);
    assert_int_equal(cg_key_public_pem(k, &pem), CG_OK);
    assert_non_null(strstr(pem, "BEGIN PUBLIC KEY"));
    free(pem);
    cg_key_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_verify_roundtrip),
        cmocka_unit_test(test_prepared_nonces),
        cmocka_unit_test(test_prepared_nonces_fork),
        cmocka_unit_test(test_wrong_key_kinds),
        cmocka_unit_test(test_public_pem),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
