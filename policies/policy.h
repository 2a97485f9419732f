/*
 * policy: the GDPR Art. 9 guard as data plus a small engine. policy_load reads versioned,
 * reviewable rule files (word families and rules, files policies/rules/NAME.rules) and the reply
 * texts (policies/replies.de.txt, replies.en.txt) from a folder; policy_classify decides for one
 * customer message what the service may do (answer, refuse, handoff, emergency), why (the rule
 * id) and whether the text holds health data. A loaded policy is read-only and thread-safe.
 */
#ifndef PD_POLICY_H
#define PD_POLICY_H

#include <stddef.h>

#include "buf.h"

typedef struct policy policy;

/* strongest last: emergency > refuse > handoff > answer */
typedef enum policy_decision {
    POLICY_ANSWER = 0,
    POLICY_HANDOFF,
    POLICY_REFUSE,
    POLICY_EMERGENCY,
    POLICY_DECISION_COUNT
} policy_decision;

typedef enum policy_intent {
    POLICY_AVAILABILITY = 0,
    POLICY_ORDER_STATUS,
    POLICY_GENERAL,
    POLICY_MEDICAL_ADVICE,
    POLICY_HUMAN_REQUEST,
    POLICY_ADVERSE_EVENT,
    POLICY_COMPLAINT,
    POLICY_PRESCRIPTION,
    POLICY_INTENT_EMERGENCY,
    POLICY_INTENT_COUNT
} policy_intent;

/* for POLICY_GENERAL: which general reply fits */
typedef enum policy_topic {
    POLICY_TOPIC_NONE = 0, /* intent is not general */
    POLICY_TOPIC_OPENING_HOURS,
    POLICY_TOPIC_EMERGENCY_SERVICE,
    POLICY_TOPIC_EPRESCRIPTION,
    POLICY_TOPIC_DELIVERY,
    POLICY_TOPIC_PAYMENT,
    POLICY_TOPIC_PICKUP,
    POLICY_TOPIC_GREETING,
    POLICY_TOPIC_OTHER,
    POLICY_TOPIC_COUNT
} policy_topic;

typedef struct policy_result {
    policy_decision decision;
    policy_intent intent;
    policy_topic topic;
    int health_data;         /* 1 when the text reveals a person's health */
    const char *rule;        /* id of the deciding rule, e.g. "emergency.poisoning" */
    const char *health_rule; /* id of the health rule that fired, NULL when none */
    const char *lang;        /* "de" or "en", detected */
    const char *reply_key;   /* the reply for the decision, e.g. "refuse.medical_advice" */
} policy_result;

/*
 * Loads DIR/rules/ *.rules (in byte order of their names), DIR/replies.de.txt and
 * DIR/replies.en.txt. On a broken file returns PD_EINVAL with "FILE:LINE: what is wrong" in
 * err (when not NULL); PD_EIO when a file cannot be read.
 */
int policy_load(const char *dir, policy **out, buf *err);
void policy_free(policy *p);

/* BLAKE2b over every loaded file's name and bytes, hex, 16 characters */
const char *policy_version(const policy *p);

/*
 * Classifies one message (any bytes; invalid UTF-8 and NUL bytes act as separators). Returns
 * 0; the strings in out live as long as p. Never allocates for messages up to a few KiB.
 */
int policy_classify(const policy *p, const char *text, size_t len, policy_result *out);

/* the reply template for key in lang ("de"/"en", other values fall back to "de"); NULL if none */
const char *policy_reply(const policy *p, const char *key, const char *lang);

/* placeholder values for policy_render; NULL members render as "" */
typedef struct policy_vars {
    const char *pharmacy_name, *pharmacy_phone, *poison_name, *poison_phone, *emergency_url, *hours,
        *product, *status, *order, *expected, *note;
} policy_vars;

/* appends template with {placeholders} replaced by vars to out */
void policy_render(const char *tmpl, const policy_vars *vars, buf *out);

const char *policy_decision_name(policy_decision d);
const char *policy_intent_name(policy_intent i);
const char *policy_topic_name(policy_topic t);

/* for rule authors: appends the folded text and every family hit ("!" = negated) to out */
void policy_explain(const policy *p, const char *text, size_t len, buf *out);

/* for tests and tools: the number of families, entries and rules loaded */
void policy_stats(const policy *p, size_t *families, size_t *entries, size_t *rules);

#endif
