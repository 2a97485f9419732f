/*
 * product: the catalog's records (products and orders) as plain structs, and the enums whose
 * names are part of the API (dispensing, supply, availability, order status). Strings are
 * borrowed: whoever fills a record owns the memory behind it.
 */
#ifndef PD_PRODUCT_H
#define PD_PRODUCT_H

#include <stdint.h>

enum dispensing { DISPENSING_PHARMACY, DISPENSING_RX, DISPENSING_FREE };
enum supply { SUPPLY_AVAILABLE, SUPPLY_SHORTAGE, SUPPLY_DISCONTINUED };
enum availability { AVAIL_IN_STOCK, AVAIL_ORDERABLE, AVAIL_SHORTAGE, AVAIL_DISCONTINUED };

typedef struct product {
    uint32_t pzn;
    const char *name;
    const char *manufacturer;
    const char *active_ingredient;
    const char *strength;
    const char *dosage_form;
    const char *pack_size;
    enum dispensing dispensing;
    long long price_cents;
    long long stock;
    enum supply supply;
    const char *aliases; /* ';'-separated */
} product;

enum order_status {
    ORDER_RECEIVED,
    ORDER_WAITING_FOR_PRESCRIPTION,
    ORDER_IN_PREPARATION,
    ORDER_ORDERED_FROM_WHOLESALER,
    ORDER_PARTIALLY_AVAILABLE,
    ORDER_READY_FOR_PICKUP,
    ORDER_OUT_FOR_DELIVERY,
    ORDER_DELIVERED,
    ORDER_PICKED_UP,
    ORDER_CANCELLED,
    ORDER_STATUS_COUNT
};

typedef struct order_item {
    uint32_t pzn;
    int qty;
} order_item;

typedef struct order {
    char number[16]; /* canonical "AP-100231" */
    const char *created_at;
    const char *last_name;
    const char *postcode;
    const char *email;
    enum order_status status;
    const char *expected; /* YYYY-MM-DD or "" */
    const char *note;
    const order_item *items;
    int nitems;
} order;

const char *dispensing_name(enum dispensing d);
int dispensing_parse(const char *s, enum dispensing *out);
const char *supply_name(enum supply s);
int supply_parse(const char *s, enum supply *out);
enum availability product_availability(const product *p);
/* a copy of p and its strings in one allocation (free() it); NULL strings become "" */
product *product_dup(const product *p);
const char *availability_name(enum availability a);
const char *order_status_name(enum order_status s);
int order_status_parse(const char *s, enum order_status *out);

#endif
