#include "product.h"

#include <string.h>

#include "pd.h"

static const char *const dispensing_names[] = {"pharmacy", "rx", "free"};
static const char *const supply_names[] = {"available", "shortage", "discontinued"};
static const char *const availability_names[] = {"in_stock", "orderable", "shortage",
                                                 "discontinued"};
static const char *const order_status_names[ORDER_STATUS_COUNT] = {"received",
                                                                   "waiting_for_prescription",
                                                                   "in_preparation",
                                                                   "ordered_from_wholesaler",
                                                                   "partially_available",
                                                                   "ready_for_pickup",
                                                                   "out_for_delivery",
                                                                   "delivered",
                                                                   "picked_up",
                                                                   "cancelled"};

static int name_index(const char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], s) == 0)
            return (int)i;
    return PD_EINVAL;
}

const char *dispensing_name(enum dispensing d)
{
    return dispensing_names[d];
}

int dispensing_parse(const char *s, enum dispensing *out)
{
    int i = name_index(dispensing_names, PD_ARRAY_LEN(dispensing_names), s);
    if (i < 0)
        return i;
    *out = (enum dispensing)i;
    return PD_OK;
}

const char *supply_name(enum supply s)
{
    return supply_names[s];
}

int supply_parse(const char *s, enum supply *out)
{
    int i = name_index(supply_names, PD_ARRAY_LEN(supply_names), s);
    if (i < 0)
        return i;
    *out = (enum supply)i;
    return PD_OK;
}

enum availability product_availability(const product *p)
{
    if (p->stock > 0)
        return AVAIL_IN_STOCK;
    switch (p->supply) {
    case SUPPLY_SHORTAGE:
        return AVAIL_SHORTAGE;
    case SUPPLY_DISCONTINUED:
        return AVAIL_DISCONTINUED;
    case SUPPLY_AVAILABLE:
        break;
    }
    return AVAIL_ORDERABLE;
}

const char *availability_name(enum availability a)
{
    return availability_names[a];
}

const char *order_status_name(enum order_status s)
{
    return order_status_names[s];
}

int order_status_parse(const char *s, enum order_status *out)
{
    int i = name_index(order_status_names, ORDER_STATUS_COUNT, s);
    if (i < 0)
        return i;
    *out = (enum order_status)i;
    return PD_OK;
}

product *product_dup(const product *p)
{
    const char *src[7] = {p->name,     p->manufacturer, p->active_ingredient,
                          p->strength, p->dosage_form,  p->pack_size,
                          p->aliases};
    size_t len[7], total = sizeof(product);
    for (int i = 0; i < 7; i++) {
        if (!src[i])
            src[i] = "";
        len[i] = strlen(src[i]);
        total += len[i] + 1;
    }
    product *d = pd_xmalloc(total);
    *d = *p;
    const char **dst[7] = {&d->name,     &d->manufacturer, &d->active_ingredient,
                           &d->strength, &d->dosage_form,  &d->pack_size,
                           &d->aliases};
    char *mem = (char *)(d + 1);
    for (int i = 0; i < 7; i++) {
        memcpy(mem, src[i], len[i] + 1);
        *dst[i] = mem;
        mem += len[i] + 1;
    }
    return d;
}
