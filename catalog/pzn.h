/*
 * pzn: the German Pharmazentralnummer (PZN-8). A PZN is 7 digits plus a check digit: the first
 * seven digits weighted 1..7, summed, mod 11; a remainder of 10 is never issued. Old 7-digit
 * PZNs are read with a leading zero. This module parses and formats PZNs and finds them in free
 * customer text; it owns no memory.
 */
#ifndef PD_PZN_H
#define PD_PZN_H

#include <stddef.h>
#include <stdint.h>

/* the largest number a PZN can be (8 digits) */
#define PZN_MAX 99999999u

/*
 * Parses a whole string: an optional case-insensitive "PZN" prefix, optionally followed by
 * ':' or '-' (spaces around it allowed), then 7 or 8 digits, which may be split into groups
 * by single spaces or hyphens ("PZN 0812-8768"). Surrounding ASCII whitespace is ignored.
 * Returns 0 and sets *out; PD_EINVAL for a wrong format (also for 00000000, which is not a PZN),
 * PD_ECHECK when the check digit does not match.
 */
int pzn_parse(const char *s, size_t len, uint32_t *out);

/* writes pzn as 8 zero-padded digits and a NUL; values above PZN_MAX keep their last 8 digits */
void pzn_format(uint32_t pzn, char out[9]);

/* 1 when pzn is at most PZN_MAX, not 0, and its check digit matches; else 0 */
int pzn_valid(uint32_t pzn);

/*
 * Finds valid PZNs in free text (UTF-8; only ASCII digits count) and stores at most max of them
 * in out, without duplicates, in order of appearance; returns how many were stored.
 * Digit groups joined by single spaces or hyphens form one run ("0812 8768"); a run counts
 * when it has 7 or 8 digits in total and is not an ISO date (2026-11-20). A run with more
 * digits yields its 7- or 8-digit groups only when every other group is a small number of
 * 1-3 digits without a leading zero ("2 81287667", "81287667 13926897"); area codes, phone
 * numbers, IBANs and other long numbers yield nothing. A run glued to further digits by '/' or
 * '.', preceded by '+' or by a number in parentheses ("(030) 12345678") is part of a longer
 * number too. Cost is O(len + found * max): meant for messages, not for books.
 */
size_t pzn_find(const char *text, size_t len, uint32_t *out, size_t max);

#endif
