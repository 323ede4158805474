#define _POSIX_C_SOURCE 200809L
/*
 * librocketmq C API test against rocketmq-rs' embedded broker: messages, error handling,
 * producer (sync, async, one-way, orderly, batch), push consumer (callback, orderly, SQL92),
 * pull consumer, lite pull consumer, topic administration, transaction producer (executor and
 * broker check-back).
 * Built with -fsanitize=address (leak detection on) by tests/c/run.sh; ends by checking that
 * destroyed handles left no thread behind. Prints "N passed, N failed".
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "CBatchMessage.h"
#include "CCommon.h"
#include "CEmbeddedBroker.h"
#include "CErrorMessage.h"
#include "CLitePullConsumer.h"
#include "CMessage.h"
#include "CMessageExt.h"
#include "CProducer.h"
#include "CPullConsumer.h"
#include "CPushConsumer.h"
#include "CTopicAdmin.h"

static int passed, failed;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (cond) {                                                                   \
            passed++;                                                                 \
        } else {                                                                      \
            failed++;                                                                 \
            fprintf(stderr, "FAIL %s:%d: %s (latest error: %s)\n", __FILE__, __LINE__, \
                    #cond, GetLatestErrorMessage() ? GetLatestErrorMessage() : "NULL"); \
        }                                                                             \
    } while (0)

static const char* namesrv;
static const char* broker_addr;

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Waits up to `seconds` for *counter to reach `want`. */
static int wait_for(atomic_int* counter, int want, int seconds) {
    for (int i = 0; i < seconds * 10; i++) {
        if (atomic_load(counter) >= want) return 1;
        sleep_ms(100);
    }
    return atomic_load(counter) >= want;
}

static CProducer* started_producer(const char* group) {
    CProducer* p = CreateProducer(group);
    CHECK(p != NULL);
    CHECK(SetProducerNameServerAddress(p, namesrv) == OK);
    CHECK(SetProducerSendMsgTimeout(p, 5000) == OK);
    CHECK(StartProducer(p) == OK);
    return p;
}

static void test_messages_and_errors(void) {
    CHECK(GetRocketMQAbiVersion() == ROCKETMQ_RS_ABI_VERSION);
    CHECK(strncmp(GetRocketMQVersion(), "rocketmq-rs", 11) == 0);

    CMessage* m = CreateMessage("T");
    CHECK(m != NULL);
    CHECK(SetMessageTags(m, "TagA") == OK);
    CHECK(SetMessageKeys(m, "k1 k2") == OK);
    CHECK(SetMessageBody(m, "hello") == OK);
    CHECK(SetMessageProperty(m, "color", "red") == OK);
    CHECK(SetDelayTimeLevel(m, 3) == OK);
    CHECK(strcmp(GetOriginMessageTopic(m), "T") == 0);
    CHECK(strcmp(GetOriginMessageTags(m), "TagA") == 0);
    CHECK(strcmp(GetOriginMessageKeys(m), "k1 k2") == 0);
    CHECK(strcmp(GetOriginMessageBody(m), "hello") == 0);
    CHECK(GetOriginMessageBodyLength(m) == 5);
    CHECK(strcmp(GetOriginMessageProperty(m, "color"), "red") == 0);
    CHECK(strcmp(GetOriginMessageProperty(m, "absent"), "") == 0);
    CHECK(GetOriginDelayTimeLevel(m) == 3);
    /* Binary bodies keep their NULs and stay NUL-terminated. */
    CHECK(SetByteMessageBody(m, "a\0b", 3) == OK);
    CHECK(GetOriginMessageBodyLength(m) == 3);
    CHECK(memcmp(GetOriginMessageBody(m), "a\0b\0", 4) == 0);
    /* The CMessageExt getters accept a CMessage (what the Python wrapper relies on). */
    CHECK(strcmp(GetMessageTopic((CMessageExt*)m), "T") == 0);
    CHECK(strcmp(GetMessageProperty((CMessageExt*)m, "color"), "red") == 0);
    CHECK(strcmp(GetMessageId((CMessageExt*)m), "") == 0);
    CHECK(GetMessageQueueOffset((CMessageExt*)m) == 0);
    CHECK(DestroyMessage(m) == OK);

    /* NULL and dead handles are errors, never crashes. */
    CHECK(DestroyMessage(m) == NULL_POINTER);
    CHECK(DestroyMessage(NULL) == NULL_POINTER);
    CHECK(SetMessageTags(NULL, "x") == NULL_POINTER);
    CHECK(GetOriginMessageTopic(NULL) == NULL);
    CHECK(GetOriginDelayTimeLevel(NULL) == -1);
    CHECK(GetMessageTopic(NULL) == NULL);
    CHECK(GetMessageQueueId(NULL) == NULL_POINTER);
    CHECK(CreateProducer(NULL) == NULL);
    CHECK(StartProducer(NULL) == NULL_POINTER);
    CHECK(SendMessageSync(NULL, NULL, NULL) == NULL_POINTER);
    CHECK(CreatePushConsumer(NULL) == NULL);
    CHECK(StartPushConsumer(NULL) == NULL_POINTER);
    CHECK(strcmp(ShowProducerVersion(NULL), DEFAULT_SDK_VERSION) == 0);

    CBatchMessage* b = CreateBatchMessage();
    CMessage* one = CreateMessage("T");
    CHECK(AddMessage(b, one) == OK);
    CHECK(DestroyMessage(one) == OK); /* the batch holds a copy */
    CHECK(AddMessage(b, one) == NULL_POINTER);
    CHECK(DestroyBatchMessage(b) == OK);
    CHECK(DestroyBatchMessage(b) == NULL_POINTER);

    /* A producer that is not started, or has no name server, fails with its family's code. */
    CProducer* p = CreateProducer("g-unstarted");
    CMessage* msg = CreateMessage("T");
    CSendResult r;
    CHECK(SendMessageSync(p, msg, &r) == PRODUCER_SEND_SYNC_FAILED);
    CHECK(strstr(GetLatestErrorMessage(), "not started") != NULL);
    CHECK(SetProducerSendMsgTimeout(p, 0) == PRODUCER_START_FAILED);
    CHECK(DestroyMessage(msg) == OK);
    CHECK(DestroyProducer(p) == OK);
}

/* ---- threads ---- */

/* Counts this process's threads other than the main one and the two process-wide runtimes
 * (the client's "rocketmq-client", the embedded broker's "rocketmq-embedded"; Linux keeps the
 * first 15 bytes of a name). Every other thread was started for a handle and must be gone
 * once that handle is shut down. Prints the strays' names when `report` is set. */
static int stray_threads(int report) {
    DIR* dir = opendir("/proc/self/task");
    if (dir == NULL) return 0; /* not Linux: nothing to check */
    int strays = 0;
    struct dirent* e;
    while ((e = readdir(dir)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[320], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE* f = fopen(path, "r");
        if (f == NULL) continue; /* it exited meanwhile */
        if (fgets(name, sizeof name, f) == NULL) name[0] = '\0';
        fclose(f);
        name[strcspn(name, "\n")] = '\0';
        if (atoi(e->d_name) == (int)getpid()) continue;
        if (strcmp(name, "rocketmq-client") == 0 || strcmp(name, "rocketmq-embedd") == 0) continue;
        strays++;
        if (report) fprintf(stderr, "thread still running: %s (%s)\n", e->d_name, name);
    }
    closedir(dir);
    return strays;
}

/* Waits up to `seconds` for the threads of shut-down handles to end (they exit on their own
 * once told to; some finish their current step first). */
static int no_stray_threads(int seconds) {
    for (int i = 0; i < seconds * 10; i++) {
        if (stray_threads(0) == 0) return 1;
        sleep_ms(100);
    }
    return stray_threads(1) == 0;
}

/* ---- producer + push consumer ---- */

static atomic_int received_plain;
static atomic_int received_bad_body;

static int on_plain(CPushConsumer* c, CMessageExt* m) {
    (void)c;
    if (strncmp(GetMessageBody(m), "plain-", 6) != 0 || strlen(GetMessageId(m)) == 0 ||
        GetMessageQueueOffset(m) < 0 || strcmp(GetMessageTags(m), "TagA") != 0 ||
        strcmp(GetMessageProperty(m, "color"), "red") != 0 || GetMessageStoreTimestamp(m) <= 0 ||
        strchr(GetMessageStoreHost(m), ':') == NULL)
        atomic_fetch_add(&received_bad_body, 1);
    atomic_fetch_add(&received_plain, 1);
    return E_CONSUME_SUCCESS;
}

static atomic_int async_ok, async_err;
static void on_async_ok(CSendResult r) {
    if (r.sendStatus == E_SEND_OK && strlen(r.msgId) > 0) atomic_fetch_add(&async_ok, 1);
}
static void on_async_err(CMQException e) {
    fprintf(stderr, "async send failed: %s\n", e.msg);
    atomic_fetch_add(&async_err, 1);
}

static atomic_int send_async_ok;
static void on_send_async_ok(CSendResult r, CMessage* msg, void* user) {
    if (r.sendStatus == E_SEND_OK && msg != NULL && user == (void*)&send_async_ok) atomic_fetch_add(&send_async_ok, 1);
}
static void on_send_async_err(CMQException e, CMessage* msg, void* user) {
    (void)msg;
    (void)user;
    fprintf(stderr, "SendAsync failed: %s\n", e.msg);
}

static int select_last(int size, CMessage* msg, void* arg) {
    (void)msg;
    *(int*)arg = size;
    return size - 1;
}

static void test_producer_and_push_consumer(void) {
    CProducer* p = started_producer("g-producer");
    const int N = 5;
    CSendResult r;
    long long last_offset = -1;
    for (int i = 0; i < N; i++) {
        CMessage* m = CreateMessage("TopicPlain");
        char body[32];
        snprintf(body, sizeof body, "plain-%d", i);
        SetMessageBody(m, body);
        SetMessageTags(m, "TagA");
        SetMessageProperty(m, "color", "red");
        memset(&r, 0, sizeof r);
        CHECK(SendMessageSync(p, m, &r) == OK);
        CHECK(r.sendStatus == E_SEND_OK);
        CHECK(strlen(r.msgId) > 0);
        CHECK(r.offset >= 0);
        last_offset = r.offset;
        DestroyMessage(m);
    }
    (void)last_offset;

    CMessage* m = CreateMessage("TopicPlain");
    SetMessageBody(m, "plain-oneway");
    SetMessageTags(m, "TagA");
    SetMessageProperty(m, "color", "red");
    CHECK(SendMessageOneway(p, m) == OK);
    SetMessageBody(m, "plain-async");
    CHECK(SendMessageAsync(p, m, on_async_ok, on_async_err) == OK);
    CHECK(SendAsync(p, m, on_send_async_ok, on_send_async_err, &send_async_ok) == OK);
    CHECK(wait_for(&async_ok, 1, 20));
    CHECK(wait_for(&send_async_ok, 1, 20));
    CHECK(atomic_load(&async_err) == 0);

    int queues = 0;
    SetMessageBody(m, "plain-orderly");
    CHECK(SendMessageOrderly(p, m, select_last, &queues, 1, &r) == OK);
    CHECK(queues > 0);
    CHECK(SendMessageOrderlyByShardingKey(p, m, "order-7", &r) == OK);
    CHECK(strcmp(GetOriginMessageProperty(m, "__SHARDINGKEY"), "") == 0); /* the caller's copy is untouched */

    CBatchMessage* batch = CreateBatchMessage();
    for (int i = 0; i < 3; i++) {
        SetMessageBody(m, "plain-batch");
        AddMessage(batch, m);
    }
    CHECK(SendBatchMessage(p, batch, &r) == OK);
    CHECK(strchr(r.msgId, ',') != NULL);
    DestroyBatchMessage(batch);
    DestroyMessage(m);
    const int total = N + 1 + 2 + 2 + 3;

    /* A consumer without a callback cannot start. */
    CPushConsumer* c = CreatePushConsumer("g-plain");
    SetPushConsumerNameServerAddress(c, namesrv);
    Subscribe(c, "TopicPlain", "TagA || TagB");
    CHECK(StartPushConsumer(c) == PUSHCONSUMER_START_FAILED);
    CHECK(strstr(GetLatestErrorMessage(), "callback") != NULL);
    CHECK(SetPushConsumerThreadCount(c, 0) == NULL_POINTER);
    CHECK(SetPushConsumerMessageBatchMaxSize(c, 0) == NULL_POINTER);
    CHECK(SetPushConsumerMessageModel(c, 7) == NULL_POINTER);
    CHECK(strcmp(GetPushConsumerGroupID(c), "g-plain") == 0);
    CHECK(SetPushConsumerConsumeFromWhere(c, CONSUME_FROM_FIRST_OFFSET) == OK);
    CHECK(SetPushConsumerMessageBatchMaxSize(c, 4) == OK);
    CHECK(RegisterMessageCallback(c, on_plain) == OK);
    CHECK(StartPushConsumer(c) == OK);
    CHECK(wait_for(&received_plain, total, 60));
    CHECK(atomic_load(&received_bad_body) == 0);
    CHECK(ShutdownPushConsumer(c) == OK);
    int after = atomic_load(&received_plain);
    sleep_ms(300);
    CHECK(atomic_load(&received_plain) == after); /* nothing after shutdown */
    CHECK(DestroyPushConsumer(c) == OK);
    CHECK(DestroyPushConsumer(c) == NULL_POINTER);

    CHECK(ShutdownProducer(p) == OK);
    CHECK(DestroyProducer(p) == OK);
}

/* ---- offset diff: what a consumer has yet to consume ---- */

static atomic_int held, release_held;
static int on_hold(CPushConsumer* c, CMessageExt* m) {
    (void)c;
    (void)m;
    atomic_fetch_add(&held, 1);
    while (!atomic_load(&release_held)) sleep_ms(10);
    return 0;
}

/* Waits up to `seconds` for the offset diff of `topic` to be `want`; returns the last one. */
static long long wait_for_diff(CPushConsumer* c, const char* topic, long long want, int seconds) {
    long long diff = -1;
    int queues = 0;
    for (int i = 0; i < seconds * 10; i++) {
        CHECK(GetPushConsumerOffsetDiff(c, topic, &diff, &queues) == OK);
        if (diff == want && queues > 0) break;
        sleep_ms(100);
    }
    return diff;
}

static void test_offset_diff(void) {
    /* TopicPlain holds 13 messages (test_producer_and_push_consumer). A consumer holding its
     * first deliveries in the callback has consumed nothing yet. */
    CPushConsumer* c = CreatePushConsumer("g-diff");
    long long diff = 0;
    int queues = 0;
    CHECK(GetPushConsumerOffsetDiff(c, "TopicPlain", &diff, &queues) == PUSHCONSUMER_NOT_RUNNING);
    SetPushConsumerNameServerAddress(c, namesrv);
    SetPushConsumerConsumeFromWhere(c, CONSUME_FROM_FIRST_OFFSET);
    SetPushConsumerThreadCount(c, 1);
    Subscribe(c, "TopicPlain", "*");
    RegisterMessageCallback(c, on_hold);
    CHECK(StartPushConsumer(c) == OK);
    CHECK(wait_for(&held, 1, 30));
    CHECK(wait_for_diff(c, "TopicPlain", 13, 20) == 13);
    CHECK(GetPushConsumerOffsetDiff(c, "TopicPlain", NULL, &queues) == NULL_POINTER);
    /* A topic it does not read: no queue, no diff. */
    CHECK(GetPushConsumerOffsetDiff(c, "TopicNotMine", &diff, &queues) == OK);
    CHECK(diff == 0 && queues == 0);
    atomic_store(&release_held, 1);
    CHECK(wait_for_diff(c, "TopicPlain", 0, 30) == 0);
    CHECK(ShutdownPushConsumer(c) == OK);
    CHECK(DestroyPushConsumer(c) == OK);
}

/* ---- retries: a non-zero return means "later" ---- */

static atomic_int retry_calls;
static atomic_int retry_redelivered;
static int on_retry(CPushConsumer* c, CMessageExt* m) {
    (void)c;
    int n = atomic_fetch_add(&retry_calls, 1);
    if (GetMessageReconsumeTimes(m) > 0) atomic_fetch_add(&retry_redelivered, 1);
    return n == 0 ? 42 : 0; /* any non-zero value: reconsume later */
}

static void test_reconsume_later(void) {
    CProducer* p = started_producer("g-retry-producer");
    CMessage* m = CreateMessage("TopicRetry");
    SetMessageBody(m, "retry me");
    CSendResult r;
    CHECK(SendMessageSync(p, m, &r) == OK);
    DestroyMessage(m);

    CPushConsumer* c = CreatePushConsumer("g-retry");
    SetPushConsumerNameServerAddress(c, namesrv);
    SetPushConsumerConsumeFromWhere(c, CONSUME_FROM_FIRST_OFFSET);
    Subscribe(c, "TopicRetry", "*");
    RegisterMessageCallback(c, on_retry);
    CHECK(StartPushConsumer(c) == OK);
    /* Redelivered through the retry topic after delay level 3 (10 s). */
    CHECK(wait_for(&retry_redelivered, 1, 40));
    ShutdownPushConsumer(c);
    DestroyPushConsumer(c);
    ShutdownProducer(p);
    DestroyProducer(p);
}

/* ---- SQL92 and orderly ---- */

static atomic_int sql_received, sql_wrong;
static int on_sql(CPushConsumer* c, CMessageExt* m) {
    (void)c;
    if (atoi(GetMessageProperty(m, "a")) <= 5) atomic_fetch_add(&sql_wrong, 1);
    atomic_fetch_add(&sql_received, 1);
    return 0;
}

static atomic_int orderly_received, orderly_out_of_order;
static long long orderly_last[64];
static int on_orderly(CPushConsumer* c, CMessageExt* m) {
    (void)c;
    int q = GetMessageQueueId(m);
    long long off = GetMessageQueueOffset(m);
    if (q >= 0 && q < 64) {
        if (off <= orderly_last[q]) atomic_fetch_add(&orderly_out_of_order, 1);
        orderly_last[q] = off;
    }
    atomic_fetch_add(&orderly_received, 1);
    return 0;
}

static void test_sql92_and_orderly(void) {
    CProducer* p = started_producer("g-sql-producer");
    CSendResult r;
    for (int i = 0; i < 10; i++) {
        CMessage* m = CreateMessage("TopicSql");
        char a[16];
        snprintf(a, sizeof a, "%d", i);
        SetMessageProperty(m, "a", a);
        SetMessageBody(m, "sql");
        CHECK(SendMessageOrderlyByShardingKey(p, m, "same-key", &r) == OK);
        DestroyMessage(m);
    }

    CPushConsumer* c = CreatePushConsumer("g-sql");
    SetPushConsumerNameServerAddress(c, namesrv);
    SetPushConsumerConsumeFromWhere(c, CONSUME_FROM_FIRST_OFFSET);
    CHECK(SubscribeSQL92(c, "TopicSql", "a > 5") == OK);
    CHECK(SubscribeSQL92(c, "TopicSql", NULL) == NULL_POINTER);
    RegisterMessageCallback(c, on_sql);
    CHECK(StartPushConsumer(c) == OK);
    CHECK(wait_for(&sql_received, 4, 40));
    sleep_ms(500);
    CHECK(atomic_load(&sql_received) == 4);
    CHECK(atomic_load(&sql_wrong) == 0);
    ShutdownPushConsumer(c);
    DestroyPushConsumer(c);

    for (int i = 0; i < 64; i++) orderly_last[i] = -1;
    CPushConsumer* o = CreatePushConsumer("g-orderly");
    SetPushConsumerNameServerAddress(o, namesrv);
    SetPushConsumerConsumeFromWhere(o, CONSUME_FROM_FIRST_OFFSET);
    Subscribe(o, "TopicSql", "*");
    RegisterMessageCallbackOrderly(o, on_orderly);
    CHECK(StartPushConsumer(o) == OK);
    CHECK(wait_for(&orderly_received, 10, 40));
    CHECK(atomic_load(&orderly_out_of_order) == 0);
    ShutdownPushConsumer(o);
    DestroyPushConsumer(o);
    ShutdownProducer(p);
    DestroyProducer(p);
}

/* ---- pull consumers ---- */

static void test_pull_consumers(void) {
    CProducer* p = started_producer("g-pull-producer");
    CSendResult r;
    for (int i = 0; i < 6; i++) {
        CMessage* m = CreateMessage("TopicPull");
        SetMessageBody(m, "pulled");
        SetMessageTags(m, i % 2 ? "odd" : "even");
        CHECK(SendMessageSync(p, m, &r) == OK);
        DestroyMessage(m);
    }

    CPullConsumer* c = CreatePullConsumer("g-pull");
    SetPullConsumerNameServerAddress(c, namesrv);
    CHECK(StartPullConsumer(c) == OK);
    CMessageQueue* mqs = NULL;
    int n = 0;
    CHECK(FetchSubscriptionMessageQueues(c, "TopicPull", &mqs, &n) == OK);
    CHECK(n > 0 && mqs != NULL);
    int found = 0, even = 0;
    for (int i = 0; i < n; i++) {
        CPullResult pr = Pull(c, &mqs[i], "even", 0, 32);
        CHECK(pr.pullStatus == E_FOUND || pr.pullStatus == E_NO_NEW_MSG || pr.pullStatus == E_NO_MATCHED_MSG);
        for (int k = 0; k < pr.size; k++) {
            found++;
            if (strcmp(GetMessageTags(pr.msgFoundList[k]), "even") == 0) even++;
        }
        if (pr.size > 0) {
            CHECK(ReleasePullResult(pr) == OK);
        } else {
            CHECK(ReleasePullResult(pr) == NULL_POINTER);
        }
    }
    CHECK(found == 3 && even == 3);
    CHECK(ReleaseSubscriptionMessageQueue(mqs) == OK);
    CHECK(ShutdownPullConsumer(c) == OK);
    CHECK(DestroyPullConsumer(c) == OK);

    CLitePullConsumer* l = CreateLitePullConsumer("g-lite");
    SetLitePullConsumerNameServerAddress(l, namesrv);
    SetLitePullConsumerConsumeFromWhere(l, CONSUME_FROM_FIRST_OFFSET);
    CHECK(LitePullConsumerSubscribe(l, "TopicPull", "*") == OK);
    CHECK(StartLitePullConsumer(l) == OK);
    int got = 0;
    for (int i = 0; i < 50 && got < 6; i++) {
        CMessageExt** msgs = NULL;
        int size = 0;
        CHECK(LitePullConsumerPoll(l, 500, &msgs, &size) == OK);
        got += size;
        if (msgs) CHECK(ReleaseLitePullMessages(msgs) == OK);
    }
    CHECK(got == 6);
    CHECK(LitePullConsumerCommitSync(l) == OK);
    CHECK(ShutdownLitePullConsumer(l) == OK);
    CHECK(DestroyLitePullConsumer(l) == OK);
    ShutdownProducer(p);
    DestroyProducer(p);
}

/* ---- topic administration ---- */

/* The number of readable queues the name servers list for `topic`, -1 when it has no route. */
static int route_queues(CPullConsumer* c, const char* topic) {
    CMessageQueue* mqs = NULL;
    int n = 0;
    if (FetchSubscriptionMessageQueues(c, topic, &mqs, &n) != OK) return -1;
    ReleaseSubscriptionMessageQueue(mqs);
    return n;
}

/* Waits up to `seconds` for the route of `topic` to have `want` queues (-1: no route). The
 * broker registers a change with the name server moments after it makes it. */
static int wait_for_route(CPullConsumer* c, const char* topic, int want, int seconds) {
    for (int i = 0; i < seconds * 10; i++) {
        if (route_queues(c, topic) == want) return 1;
        sleep_ms(100);
    }
    return route_queues(c, topic) == want;
}

/* 1 if the name servers list `topic`, 0 if not, -1 on error. */
static int topic_listed(CProducer* p, const char* topic) {
    char** topics = NULL;
    int n = -1;
    if (FetchTopicList(p, &topics, &n) != OK) return -1;
    int found = 0;
    for (int i = 0; i < n; i++) found |= strcmp(topics[i], topic) == 0;
    if (topics[n] != NULL) found = -1; /* the table ends with NULL */
    CHECK(ReleaseTopicList(topics) == OK);
    return found;
}

static void test_topic_admin(void) {
    /* The producer lends its settings; it need not be started. */
    CProducer* admin = CreateProducer("g-admin");
    CHECK(CreateTopic(admin, broker_addr, "TopicAdmin", 3, 3, 6, NULL, 0, 0) == TOPIC_ADMIN_FAILED);
    CHECK(strstr(GetLatestErrorMessage(), "name server") != NULL);
    CHECK(SetProducerNameServerAddress(admin, namesrv) == OK);
    CHECK(CreateTopic(NULL, broker_addr, "TopicAdmin", 3, 3, 6, NULL, 0, 0) == NULL_POINTER);
    CHECK(CreateTopic(admin, NULL, "TopicAdmin", 3, 3, 6, NULL, 0, 0) == NULL_POINTER);
    CHECK(CreateTopic(admin, broker_addr, NULL, 3, 3, 6, NULL, 0, 0) == NULL_POINTER);
    /* The broker's refusals come back with its reason. */
    CHECK(CreateTopic(admin, broker_addr, "TopicAdmin", 0, 3, 6, NULL, 0, 0) == TOPIC_ADMIN_FAILED);
    CHECK(strstr(GetLatestErrorMessage(), "readQueueNums") != NULL);

    CPullConsumer* c = CreatePullConsumer("g-admin-check");
    SetPullConsumerNameServerAddress(c, namesrv);
    CHECK(StartPullConsumer(c) == OK);
    CHECK(route_queues(c, "TopicAdmin") == -1);
    CHECK(CreateTopic(admin, broker_addr, "TopicAdmin", 3, 3, 6, NULL, 0, 0) == OK);
    CHECK(wait_for_route(c, "TopicAdmin", 3, 20));
    CHECK(topic_listed(admin, "TopicAdmin") == 1);
    CHECK(topic_listed(admin, "TBW102") == 1);
    CHECK(FetchTopicList(admin, NULL, NULL) == NULL_POINTER);
    CHECK(ReleaseTopicList(NULL) == NULL_POINTER);
    /* Creating again updates. */
    CHECK(CreateTopic(admin, broker_addr, "TopicAdmin", 5, 5, 6, "SINGLE_TAG", 0, 1) == OK);
    CHECK(wait_for_route(c, "TopicAdmin", 5, 20));

    CHECK(DeleteTopic(admin, NULL, NULL, NULL, NULL) == NULL_POINTER);
    CHECK(DeleteTopic(admin, "TopicAdmin", NULL, NULL, NULL) == OK);
    CHECK(wait_for_route(c, "TopicAdmin", -1, 20));
    CHECK(topic_listed(admin, "TopicAdmin") == 0);
    /* Without a route there is no broker to delete it from. */
    CHECK(DeleteTopic(admin, "TopicAdmin", NULL, NULL, NULL) == TOPIC_ADMIN_FAILED);
    /* Told where, it is deleted (again) without a route lookup. */
    CHECK(DeleteTopic(admin, "TopicAdmin", "", broker_addr, namesrv) == OK);

    CHECK(ShutdownPullConsumer(c) == OK);
    CHECK(DestroyPullConsumer(c) == OK);
    CHECK(DestroyProducer(admin) == OK);
}

/* ---- transactions ---- */

static atomic_int checks;
static CTransactionStatus check_commit(CProducer* p, CMessageExt* m, void* data) {
    (void)p;
    if (data == (void*)&checks && strcmp(GetMessageBody(m), "unknown") == 0) atomic_fetch_add(&checks, 1);
    return E_COMMIT_TRANSACTION;
}

static CTransactionStatus execute(CProducer* p, CMessage* m, void* data) {
    (void)p;
    (void)data;
    /* The executor gets the caller's CMessage; the CMessageExt getters work on it. */
    const char* body = GetMessageBody((CMessageExt*)m);
    if (strcmp(body, "commit") == 0) return E_COMMIT_TRANSACTION;
    if (strcmp(body, "rollback") == 0) return E_ROLLBACK_TRANSACTION;
    return (CTransactionStatus)77; /* anything else: unknown */
}

static atomic_int tx_commit, tx_rollback, tx_unknown;
static int on_tx(CPushConsumer* c, CMessageExt* m) {
    (void)c;
    const char* body = GetMessageBody(m);
    if (strcmp(body, "commit") == 0) atomic_fetch_add(&tx_commit, 1);
    if (strcmp(body, "rollback") == 0) atomic_fetch_add(&tx_rollback, 1);
    if (strcmp(body, "unknown") == 0) atomic_fetch_add(&tx_unknown, 1);
    return 0;
}

static void test_transactions(void) {
    CProducer* p = CreateTransactionProducer("g-tx", check_commit, &checks);
    SetProducerNameServerAddress(p, namesrv);
    CHECK(StartProducer(p) == OK);
    const char* bodies[] = {"commit", "rollback", "unknown"};
    for (int i = 0; i < 3; i++) {
        CMessage* m = CreateMessage("TopicTx");
        SetMessageBody(m, bodies[i]);
        CSendResult r;
        CHECK(SendMessageTransaction(p, m, execute, NULL, &r) == OK);
        CHECK(r.sendStatus == E_SEND_OK);
        DestroyMessage(m);
    }
    /* A plain send on a transaction producer works too. */
    CMessage* plain = CreateMessage("TopicTx");
    SetMessageBody(plain, "plain");
    CSendResult r;
    CHECK(SendMessageSync(p, plain, &r) == OK);
    DestroyMessage(plain);

    CPushConsumer* c = CreatePushConsumer("g-tx-consumer");
    SetPushConsumerNameServerAddress(c, namesrv);
    SetPushConsumerConsumeFromWhere(c, CONSUME_FROM_FIRST_OFFSET);
    Subscribe(c, "TopicTx", "*");
    RegisterMessageCallback(c, on_tx);
    CHECK(StartPushConsumer(c) == OK);
    CHECK(wait_for(&tx_commit, 1, 30));
    /* The undecided one is committed by the check-back. */
    CHECK(wait_for(&checks, 1, 60));
    CHECK(wait_for(&tx_unknown, 1, 60));
    CHECK(atomic_load(&tx_rollback) == 0);
    ShutdownPushConsumer(c);
    DestroyPushConsumer(c);
    CHECK(ShutdownProducer(p) == OK);
    CHECK(DestroyProducer(p) == OK);

    /* A transaction send on a plain producer is an error, not a crash. */
    CProducer* plain_p = started_producer("g-not-tx");
    CMessage* m = CreateMessage("TopicTx");
    CHECK(SendMessageTransaction(plain_p, m, execute, NULL, &r) == PRODUCER_SEND_TRANSACTION_FAILED);
    DestroyMessage(m);
    ShutdownProducer(plain_p);
    DestroyProducer(plain_p);
}

/* ---- request-reply ---- */

static CProducer* reply_producer;
static atomic_int replies_sent, reply_failures;

/* Answers every request with "re: <body>" (messages without a requester are skipped). */
static int on_request(CPushConsumer* c, CMessageExt* m) {
    (void)c;
    if (strcmp(GetMessageProperty(m, "REPLY_TO_CLIENT"), "") == 0) return E_CONSUME_SUCCESS;
    char body[64];
    int n = snprintf(body, sizeof body, "re: %s", GetMessageBody(m));
    CMessage* reply = CreateReplyMessage(m, body, n);
    if (reply == NULL) {
        fprintf(stderr, "CreateReplyMessage: %s\n", GetLatestErrorMessage());
        atomic_fetch_add(&reply_failures, 1);
        return E_CONSUME_SUCCESS;
    }
    CSendResult r;
    if (SendMessageSync(reply_producer, reply, &r) == OK)
        atomic_fetch_add(&replies_sent, 1);
    else {
        fprintf(stderr, "sending a reply: %s\n", GetLatestErrorMessage());
        atomic_fetch_add(&reply_failures, 1);
    }
    DestroyMessage(reply);
    return E_CONSUME_SUCCESS;
}

static atomic_int async_replies, async_request_errors;
static void on_reply(CMessageExt* reply, void* user) {
    if (user == (void*)&async_replies && strcmp(GetMessageBody(reply), "re: async") == 0)
        atomic_fetch_add(&async_replies, 1);
}
static void on_request_error(CMQException e, void* user) {
    (void)user;
    fprintf(stderr, "async request failed: %d %s\n", e.error, e.msg);
    atomic_fetch_add(&async_request_errors, 1);
}

static void test_request_reply(void) {
    CProducer* requester = started_producer("g-requester");
    reply_producer = started_producer("g-replier-out");
    /* The topic exists before the consumer looks for it. */
    CMessage* m = CreateMessage("TopicRequest");
    SetMessageBody(m, "warm-up");
    CSendResult r;
    CHECK(SendMessageSync(requester, m, &r) == OK);

    CPushConsumer* c = CreatePushConsumer("g-replier");
    SetPushConsumerNameServerAddress(c, namesrv);
    SetPushConsumerConsumeFromWhere(c, CONSUME_FROM_FIRST_OFFSET);
    Subscribe(c, "TopicRequest", "*");
    RegisterMessageCallback(c, on_request);
    CHECK(StartPushConsumer(c) == OK);

    CMessageExt* reply = NULL;
    SetMessageBody(m, "ping");
    CHECK(RequestMessage(requester, m, 30000, &reply) == OK);
    CHECK(reply != NULL);
    CHECK(strcmp(GetMessageBody(reply), "re: ping") == 0);
    CHECK(strcmp(GetMessageTopic(reply), "DefaultCluster_REPLY_TOPIC") == 0);
    CHECK(strlen(GetMessageProperty(reply, "CORRELATION_ID")) > 0);
    CHECK(strcmp(GetOriginMessageProperty(m, "CORRELATION_ID"), "") == 0); /* caller's copy untouched */
    CHECK(DestroyReplyMessage(reply) == OK);
    CHECK(DestroyReplyMessage(reply) == NULL_POINTER);

    SetMessageBody(m, "async");
    CHECK(RequestMessageAsync(requester, m, 30000, on_reply, on_request_error, &async_replies) == OK);
    CHECK(wait_for(&async_replies, 1, 30));
    CHECK(atomic_load(&reply_failures) == 0);

    /* Nobody answers on this topic: a timeout, with its own status. */
    CMessage* lonely = CreateMessage("TopicNobodyAnswers");
    SetMessageBody(lonely, "anyone?");
    reply = NULL;
    CHECK(RequestMessage(requester, lonely, 800, &reply) == PRODUCER_REQUEST_TIMEOUT);
    CHECK(reply == NULL);
    CHECK(strstr(GetLatestErrorMessage(), "no reply") != NULL);
    CHECK(RequestMessage(requester, lonely, 0, &reply) == NULL_POINTER);
    CHECK(RequestMessage(requester, lonely, 1000, NULL) == NULL_POINTER);
    /* A message that was never received cannot be answered. */
    CHECK(CreateReplyMessage((CMessageExt*)lonely, "x", 1) == NULL);
    CHECK(strstr(GetLatestErrorMessage(), "CLUSTER") != NULL);
    DestroyMessage(lonely);
    DestroyMessage(m);

    CHECK(ShutdownPushConsumer(c) == OK);
    CHECK(DestroyPushConsumer(c) == OK);
    CHECK(ShutdownProducer(reply_producer) == OK);
    CHECK(DestroyProducer(reply_producer) == OK);
    CHECK(ShutdownProducer(requester) == OK);
    CHECK(DestroyProducer(requester) == OK);
    CHECK(atomic_load(&async_request_errors) == 0);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    test_messages_and_errors();

    CEmbeddedBroker* b = CreateEmbeddedBroker();
    CHECK(b != NULL);
    CHECK(strcmp(GetEmbeddedBrokerNameServerAddress(b), "") == 0);
    CHECK(SetEmbeddedBrokerProperties(b,
                                      "enablePropertyFilter=true\n"
                                      "transactionTimeOut=1000\n"
                                      "transactionCheckInterval=1000\n") == OK);
    if (StartEmbeddedBroker(b) != OK) {
        fprintf(stderr, "cannot start the embedded broker: %s\n", GetLatestErrorMessage());
        return 1;
    }
    namesrv = GetEmbeddedBrokerNameServerAddress(b);
    broker_addr = GetEmbeddedBrokerAddress(b);
    printf("embedded broker: name server %s, broker %s\n", namesrv, broker_addr);
    CHECK(SetEmbeddedBrokerPorts(b, 1, 1) == EMBEDDED_BROKER_START_FAILED); /* running */

    test_producer_and_push_consumer();
    printf("producer + push consumer done\n");
    test_offset_diff();
    printf("offset diff done\n");
    test_sql92_and_orderly();
    printf("sql92 + orderly done\n");
    test_pull_consumers();
    printf("pull consumers done\n");
    test_topic_admin();
    printf("topic admin done\n");
    test_transactions();
    printf("transactions done\n");
    test_reconsume_later();
    printf("reconsume later done\n");
    test_request_reply();
    printf("request-reply done\n");

    CHECK(ShutdownEmbeddedBroker(b) == OK);
    CHECK(DestroyEmbeddedBroker(b) == OK);
    /* Shutting down and destroying every handle ended the threads it started. */
    CHECK(no_stray_threads(10));
    printf("%d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
