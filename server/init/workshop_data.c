/* The workshop's taxi trip dataset; see workshop_data.h.
 *
 * Time: dropoffs form a renewal process whose rate follows a daily curve,
 * linear between hourly anchors (trips per hour at the top of each hour):
 *   00h 16800  01h 16200  02h 15400  03h 14200  04h 13000  05h 12400
 *   06h 12800  07h 14200  08h 15400  09h 15800  10h 15400  11h 15200
 *   12h 15400  13h 15400  14h 15600  15h 15800  16h 16000  17h 16400
 *   18h 16800  19h 16600  20h 16200  21h 16200  22h 16400  23h 16600
 * so whole hours hold 12,600 (04-06h, the low) to 16,700 (18h, the evening
 * peak) trips. Gaps are uniform in [0.5, 1.5] x the mean, not exponential,
 * so an hour's count strays only ~40 trips from the curve. At -speedup 720
 * an hour of data takes 5 s, i.e. 2,500-3,300 events/s. The replay's first
 * statistics line (20 s after it starts sending, which is ~3 s after its
 * clock started) counts everything up to ~04:36: 68,500 trips, 3,420
 * events/s, as the workshop's "until 2018-01-01T04:36:21Z ... 3442.0
 * events/sec" line.
 *
 * Trips: zones from a table of the busy NYC taxi zones with their centroids
 * and pickup/dropoff weights (Manhattan ~94% of pickups and ~93% of
 * dropoffs, the airports, some of Brooklyn, Queens and the Bronx); points
 * jittered around the centroid; 60% of the non-airport trips keep the
 * nearest of four dropoff candidates, which gives the real data's skew
 * towards short trips (median ~1.9 mi, mean ~2.8, a tail to ~30).
 * Road distance is 1.25-1.45 x the straight line; speed depends on the hour
 * and grows with distance; fares follow the 2018 meter ($2.50 + $0.50 per
 * 1/5 mile or per ~3 min slow), JFK-Manhattan is the flat $52.
 *
 * Everything is integer or IEEE-exact arithmetic (no libm transcendental),
 * so a seed gives the same bytes everywhere. */
#include "server/init/workshop_data.h"

#include <lz4frame.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EPOCH_2018 1514764800LL /* 2018-01-01T00:00:00Z */
/* A line takes 285 bytes of names and punctuation and at most ~125 of
 * values (9-digit trip ids, 30-mile trips). */
#define TRIP_LINE_MAX 512
/* At NYC's latitude (40.73 N), in miles per micro-degree. */
#define MILES_PER_UDEG_LAT 0.00006905
#define MILES_PER_UDEG_LON 0.00005242
/* Short trips: see the top comment. */
#define LOCAL_SHARE 0.6
#define LOCAL_CANDIDATES 4
#define ZONE_NEWARK 1
#define ZONE_JFK 132

static const int rate_anchor[24] = {
    16800, 16200, 15400, 14200, 13000, 12400, 12800, 14200, 15400, 15800, 15400, 15200,
    15400, 15400, 15600, 15800, 16000, 16400, 16800, 16600, 16200, 16200, 16400, 16600,
};

/* Typical taxi speed (mph) by hour of day: free roads at night. */
static const int speed_mph[24] = {
    15, 16, 17, 17, 17, 16, 13, 10, 9, 9, 9, 9, 9, 9, 9, 8, 8, 8, 8, 9, 10, 11, 12, 14,
};

enum zone_kind { MANHATTAN, AIRPORT, OUTER };

struct zone {
    int id;
    int lat, lon;         /* centroid, micro-degrees */
    enum zone_kind kind;
    int pickup_w, dropoff_w;
};

static const struct zone zones[] = {
    {237, 40768500, -73965000, MANHATTAN, 45, 40},  /* Upper East Side South */
    {161, 40758000, -73977500, MANHATTAN, 44, 42},  /* Midtown Center */
    {236, 40777000, -73955000, MANHATTAN, 40, 40},  /* Upper East Side North */
    {162, 40756500, -73971500, MANHATTAN, 36, 32},  /* Midtown East */
    {230, 40759000, -73986000, MANHATTAN, 34, 30},  /* Times Sq/Theatre District */
    {186, 40749000, -73992000, MANHATTAN, 33, 27},  /* Penn Station/Madison Sq West */
    {170, 40748000, -73978000, MANHATTAN, 30, 30},  /* Murray Hill */
    {48, 40762000, -73990000, MANHATTAN, 30, 27},   /* Clinton East */
    {234, 40736000, -73990000, MANHATTAN, 30, 27},  /* Union Sq */
    {142, 40773000, -73982000, MANHATTAN, 29, 26},  /* Lincoln Square East */
    {239, 40784000, -73977000, MANHATTAN, 28, 28},  /* Upper West Side South */
    {163, 40764500, -73979000, MANHATTAN, 27, 25},  /* Midtown North */
    {79, 40727000, -73985000, MANHATTAN, 27, 25},   /* East Village */
    {141, 40766500, -73960000, MANHATTAN, 26, 25},  /* Lenox Hill West */
    {107, 40737000, -73983000, MANHATTAN, 25, 24},  /* Gramercy */
    {68, 40744000, -73999000, MANHATTAN, 24, 24},   /* East Chelsea */
    {249, 40734000, -74003000, MANHATTAN, 24, 22},  /* West Village */
    {238, 40793000, -73971000, MANHATTAN, 22, 24},  /* Upper West Side North */
    {140, 40764000, -73955000, MANHATTAN, 21, 21},  /* Lenox Hill East */
    {164, 40749000, -73985000, MANHATTAN, 21, 20},  /* Midtown South */
    {113, 40732000, -73995000, MANHATTAN, 20, 18},  /* Greenwich Village North */
    {100, 40753000, -73990000, MANHATTAN, 19, 17},  /* Garment District */
    {90, 40741000, -73991000, MANHATTAN, 19, 18},   /* Flatiron */
    {263, 40779000, -73951000, MANHATTAN, 18, 19},  /* Yorkville West */
    {43, 40782000, -73965000, MANHATTAN, 17, 12},   /* Central Park */
    {233, 40749000, -73970000, MANHATTAN, 15, 15},  /* UN/Turtle Bay South */
    {229, 40756000, -73965000, MANHATTAN, 15, 15},  /* Sutton Place/Turtle Bay North */
    {246, 40753000, -74003000, MANHATTAN, 14, 14},  /* West Chelsea/Hudson Yards */
    {262, 40776000, -73946000, MANHATTAN, 13, 14},  /* Yorkville East */
    {114, 40728000, -74000000, MANHATTAN, 13, 12},  /* Greenwich Village South */
    {137, 40741000, -73977000, MANHATTAN, 13, 14},  /* Kips Bay */
    {144, 40720000, -73997000, MANHATTAN, 12, 11},  /* Little Italy/NoLiTa */
    {231, 40717000, -74007000, MANHATTAN, 12, 12},  /* TriBeCa/Civic Center */
    {87, 40708000, -74007000, MANHATTAN, 11, 11},   /* Financial District North */
    {148, 40718000, -73988000, MANHATTAN, 10, 11},  /* Lower East Side */
    {211, 40723000, -74002000, MANHATTAN, 10, 9},   /* SoHo */
    {158, 40738000, -74008000, MANHATTAN, 9, 8},    /* Meatpacking/West Village West */
    {143, 40776000, -73988000, MANHATTAN, 9, 9},    /* Lincoln Square West */
    {50, 40766000, -73995000, MANHATTAN, 8, 9},     /* Clinton West */
    {13, 40712000, -74016000, MANHATTAN, 8, 8},     /* Battery Park City */
    {261, 40710000, -74013000, MANHATTAN, 7, 6},    /* World Trade Center */
    {88, 40704000, -74012000, MANHATTAN, 6, 7},     /* Financial District South */
    {75, 40790000, -73945000, MANHATTAN, 6, 8},     /* East Harlem South */
    {151, 40797000, -73966000, MANHATTAN, 6, 7},    /* Manhattan Valley */
    {224, 40731000, -73976000, MANHATTAN, 5, 6},    /* Stuy Town/Peter Cooper Village */
    {166, 40809000, -73962000, MANHATTAN, 5, 6},    /* Morningside Heights */
    {4, 40724000, -73977000, MANHATTAN, 4, 5},      /* Alphabet City */
    {125, 40726000, -74007000, MANHATTAN, 4, 4},    /* Hudson Sq */
    {45, 40715000, -73995000, MANHATTAN, 4, 4},     /* Chinatown */
    {41, 40809000, -73948000, MANHATTAN, 4, 6},     /* Central Harlem */
    {74, 40802000, -73938000, MANHATTAN, 4, 5},     /* East Harlem North */
    {24, 40801000, -73967000, MANHATTAN, 3, 4},     /* Bloomingdale */
    {232, 40713000, -73985000, MANHATTAN, 3, 4},    /* Two Bridges/Seward Park */
    {42, 40818000, -73941000, MANHATTAN, 2, 4},     /* Central Harlem North */
    {152, 40817000, -73955000, MANHATTAN, 2, 3},    /* Manhattanville */
    {132, 40641300, -73778100, AIRPORT, 18, 7},     /* JFK Airport */
    {138, 40774000, -73872600, AIRPORT, 16, 9},     /* LaGuardia Airport */
    {1, 40689500, -74174500, AIRPORT, 1, 2},        /* Newark Airport */
    {255, 40719000, -73957000, OUTER, 3, 12},       /* Williamsburg (North Side) */
    {7, 40764000, -73923000, OUTER, 3, 10},         /* Astoria */
    {181, 40672000, -73978000, OUTER, 2, 10},       /* Park Slope */
    {65, 40694000, -73986000, OUTER, 2, 8},         /* Downtown Brooklyn/MetroTech */
    {256, 40710000, -73959000, OUTER, 2, 8},        /* Williamsburg (South Side) */
    {33, 40696000, -73995000, OUTER, 2, 8},         /* Brooklyn Heights */
    {146, 40750000, -73940000, OUTER, 2, 6},        /* Long Island City/Queens Plaza */
    {145, 40744000, -73951000, OUTER, 2, 6},        /* Long Island City/Hunters Point */
    {66, 40703000, -73987000, OUTER, 1, 6},         /* DUMBO/Vinegar Hill */
    {97, 40690000, -73974000, OUTER, 1, 8},         /* Fort Greene */
    {112, 40730000, -73951000, OUTER, 1, 8},        /* Greenpoint */
    {226, 40742000, -73920000, OUTER, 1, 6},        /* Sunnyside */
    {260, 40745000, -73905000, OUTER, 1, 4},        /* Woodside */
    {129, 40756000, -73884000, OUTER, 1, 4},        /* Jackson Heights */
    {82, 40737000, -73880000, OUTER, 1, 4},         /* Elmhurst */
    {168, 40805000, -73920000, OUTER, 1, 4},        /* Mott Haven/Port Morris */
    {247, 40832000, -73925000, OUTER, 1, 4},        /* West Concourse */
    {69, 40830000, -73913000, OUTER, 1, 4},         /* East Concourse/Concourse Village */
};

#define NZONES (sizeof zones / sizeof zones[0])

/* Jitter around a centroid (micro-degrees of latitude; longitude x 1.3 to
 * cover about the same distance): zone-sized, tighter at the terminals. */
static const int zone_radius[] = {[MANHATTAN] = 3500, [AIRPORT] = 2500, [OUTER] = 5000};

/* passenger_count 1..6, per mille (TLC 2018: ~71% ride alone). */
static const int passengers_pm[6] = {710, 145, 40, 20, 50, 35};

/* Tip percentages chosen on card payments (the cab screens' buttons and
 * round amounts); cash trips record no tip. */
static const int tip_pct[8] = {15, 18, 20, 20, 20, 22, 25, 30};
#define CARD_SHARE 0.7

struct trips_gen {
    uint64_t rng;
    unsigned long remaining;
    unsigned part;
    uint64_t next_id;
    double t;                     /* seconds since 2018-01-01: the next dropoff */
    unsigned pickup_cum[NZONES];  /* running sums of the weights */
    unsigned dropoff_cum[NZONES];
    char *text;                   /* one object's NDJSON */
};

struct trip {
    uint64_t id;
    int vendor, passengers;
    long long pickup, dropoff;     /* seconds since 2018-01-01 */
    long long distance;            /* hundredths of a mile */
    const struct zone *from, *to;
    long long plat, plon, dlat, dlon; /* micro-degrees */
    long long fare, tip, total;    /* cents */
};

/* splitmix64: tiny, and a full-period generator on its own. */
static uint64_t rnd(struct trips_gen *g)
{
    uint64_t z = (g->rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rnd_unit(struct trips_gen *g)
{
    return (double)(rnd(g) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n). */
static unsigned rnd_below(struct trips_gen *g, unsigned n)
{
    return (unsigned)(((rnd(g) >> 32) * n) >> 32);
}

static const struct zone *pick_zone(struct trips_gen *g, const unsigned *cum)
{
    unsigned x = rnd_below(g, cum[NZONES - 1]);
    size_t lo = 0, hi = NZONES - 1;

    while (lo < hi) { /* the first zone whose running sum exceeds x */
        size_t mid = (lo + hi) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return &zones[lo];
}

static double miles_between(long long lat1, long long lon1, long long lat2, long long lon2)
{
    double dy = (double)(lat2 - lat1) * MILES_PER_UDEG_LAT;
    double dx = (double)(lon2 - lon1) * MILES_PER_UDEG_LON;

    return sqrt(dx * dx + dy * dy);
}

static void jitter(struct trips_gen *g, const struct zone *z, long long *lat, long long *lon)
{
    int r = zone_radius[z->kind];

    *lat = z->lat + (long long)rnd_below(g, 2 * (unsigned)r + 1) - r;
    *lon = z->lon + ((long long)rnd_below(g, 2 * (unsigned)r + 1) - r) * 13 / 10;
}

static int hour_of(long long s)
{
    return (int)(((s % 86400) + 86400) % 86400 / 3600);
}

/* Trips per hour at time t (seconds since 2018-01-01). */
static double rate_at(double t)
{
    double day_s = fmod(t, 86400.0);
    int h = (int)(day_s / 3600);
    double frac = (day_s - h * 3600.0) / 3600.0;

    return rate_anchor[h] + (rate_anchor[(h + 1) % 24] - rate_anchor[h]) * frac;
}

static const struct zone *pick_dropoff(struct trips_gen *g, const struct zone *from)
{
    const struct zone *to = pick_zone(g, g->dropoff_cum);

    if (from->kind == AIRPORT || rnd_unit(g) >= LOCAL_SHARE)
        return to;
    for (int i = 1; i < LOCAL_CANDIDATES; i++) {
        const struct zone *other = pick_zone(g, g->dropoff_cum);
        if (miles_between(from->lat, from->lon, other->lat, other->lon) <
            miles_between(from->lat, from->lon, to->lat, to->lon))
            to = other;
    }
    return to;
}

static long long trip_fare(const struct trip *t, long long duration)
{
    int jfk_flat = (t->from->id == ZONE_JFK && t->to->kind == MANHATTAN) ||
                   (t->to->id == ZONE_JFK && t->from->kind == MANHATTAN);

    if (jfk_flat)
        return 5200;
    /* 50 cents per fifth of a mile, and for about a third of the minutes
     * (the share spent below 12 mph, which the meter bills by time). */
    return 250 + 50 * (t->distance / 20 + duration / 200);
}

/* MTA tax, improvement surcharge, the night or rush-hour extra, the Newark
 * surcharge and tolls. */
static long long trip_extras(struct trips_gen *g, const struct trip *t)
{
    int h = hour_of(t->pickup);
    long long extras = 50 + 30;

    if (h >= 20 || h < 6)
        extras += 50;
    else if (h >= 16)
        extras += 100;
    if (t->from->id == ZONE_NEWARK || t->to->id == ZONE_NEWARK)
        extras += 1750 + 1500;
    else if ((t->from->kind == AIRPORT || t->to->kind == AIRPORT) && rnd_unit(g) < 0.3)
        extras += 576;
    return extras;
}

static void make_trip(struct trips_gen *g, struct trip *t)
{
    int pm = (int)rnd_below(g, 1000), hour, p = 0;
    double miles, mph, seconds;
    long long duration, extras;

    t->id = g->next_id++;
    t->dropoff = (long long)g->t;
    t->vendor = rnd_unit(g) < 0.44 ? 1 : 2;
    while (pm >= passengers_pm[p])
        pm -= passengers_pm[p++];
    t->passengers = p + 1;

    t->from = pick_zone(g, g->pickup_cum);
    t->to = pick_dropoff(g, t->from);
    jitter(g, t->from, &t->plat, &t->plon);
    jitter(g, t->to, &t->dlat, &t->dlon);

    miles = miles_between(t->plat, t->plon, t->dlat, t->dlon) * (1.25 + 0.2 * rnd_unit(g)) + 0.1;
    t->distance = (long long)(miles * 100 + 0.5);

    /* Longer trips take faster roads (avenues, highways). */
    hour = hour_of(t->dropoff);
    mph = speed_mph[hour] * (1 + miles / (miles + 10));
    seconds = 60 + miles / mph * 3600 * (0.85 + 0.3 * rnd_unit(g));
    duration = (long long)seconds;
    t->pickup = t->dropoff - duration;

    t->fare = trip_fare(t, duration);
    extras = trip_extras(g, t);
    t->tip = 0;
    if (rnd_unit(g) < CARD_SHARE)
        t->tip = ((t->fare + extras) * tip_pct[rnd_below(g, 8)] + 50) / 100;
    t->total = t->fare + extras + t->tip;

    g->t += 3600.0 / rate_at(g->t) * (0.5 + rnd_unit(g));
}

/* ---- NDJSON: hand-rolled, as snprintf would be most of the time spent. */

#define PUT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

static char *put_uint(char *p, unsigned long long v)
{
    char tmp[20];
    int n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_digits(char *p, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return p + width;
}

/* v / 10^decimals with exactly `decimals` digits after the point. */
static char *put_fixed(char *p, long long v, int decimals)
{
    unsigned long long scale = decimals == 2 ? 100 : 1000000;
    unsigned long long a;

    if (v < 0)
        *p++ = '-';
    a = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
    p = put_uint(p, a / scale);
    *p++ = '.';
    return put_digits(p, (unsigned)(a % scale), decimals);
}

/* "YYYY-MM-DDTHH:MM:SSZ" with its quotes; days to a civil date by Howard
 * Hinnant's algorithm (valid for any day, 2017's pickups included). */
static char *put_time(char *p, long long s)
{
    long long unix_s = EPOCH_2018 + s;
    long long days = unix_s / 86400, sod = unix_s % 86400;
    long long z = days + 719468, era = z / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = (unsigned)(yoe + era * 400 + (month <= 2));

    *p++ = '"';
    p = put_digits(p, year, 4);
    *p++ = '-';
    p = put_digits(p, month, 2);
    *p++ = '-';
    p = put_digits(p, day, 2);
    *p++ = 'T';
    p = put_digits(p, (unsigned)(sod / 3600), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(sod / 60 % 60), 2);
    *p++ = ':';
    p = put_digits(p, (unsigned)(sod % 60), 2);
    return PUT(p, "Z\"");
}

static char *put_trip(char *p, const struct trip *t)
{
    p = PUT(p, "{\"type\":\"trip\",\"trip_id\":");
    p = put_uint(p, t->id);
    p = PUT(p, ",\"vendor_id\":");
    p = put_uint(p, (unsigned)t->vendor);
    p = PUT(p, ",\"pickup_datetime\":");
    p = put_time(p, t->pickup);
    p = PUT(p, ",\"dropoff_datetime\":");
    p = put_time(p, t->dropoff);
    p = PUT(p, ",\"passenger_count\":");
    p = put_uint(p, (unsigned)t->passengers);
    p = PUT(p, ",\"trip_distance\":");
    p = put_fixed(p, t->distance, 2);
    p = PUT(p, ",\"pickup_location_id\":");
    p = put_uint(p, (unsigned)t->from->id);
    p = PUT(p, ",\"dropoff_location_id\":");
    p = put_uint(p, (unsigned)t->to->id);
    p = PUT(p, ",\"pickup_latitude\":");
    p = put_fixed(p, t->plat, 6);
    p = PUT(p, ",\"pickup_longitude\":");
    p = put_fixed(p, t->plon, 6);
    p = PUT(p, ",\"dropoff_latitude\":");
    p = put_fixed(p, t->dlat, 6);
    p = PUT(p, ",\"dropoff_longitude\":");
    p = put_fixed(p, t->dlon, 6);
    p = PUT(p, ",\"fare_amount\":");
    p = put_fixed(p, t->fare, 2);
    p = PUT(p, ",\"tip_amount\":");
    p = put_fixed(p, t->tip, 2);
    p = PUT(p, ",\"total_amount\":");
    p = put_fixed(p, t->total, 2);
    return PUT(p, "}\n");
}

/* ---- Objects. */

struct trips_gen *trips_gen_new(uint64_t seed, unsigned long trips)
{
    struct trips_gen *g;
    unsigned pickup_sum = 0, dropoff_sum = 0;

    if (trips < 1 || trips > WORKSHOP_MAX_TRIPS)
        return NULL;
    g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->text = malloc((size_t)WORKSHOP_TRIPS_PER_OBJECT * TRIP_LINE_MAX);
    if (!g->text) {
        free(g);
        return NULL;
    }
    g->rng = seed;
    g->remaining = trips;
    g->next_id = 1;
    for (size_t i = 0; i < NZONES; i++) {
        pickup_sum += (unsigned)zones[i].pickup_w;
        dropoff_sum += (unsigned)zones[i].dropoff_w;
        g->pickup_cum[i] = pickup_sum;
        g->dropoff_cum[i] = dropoff_sum;
    }
    return g;
}

/* One frame as the lz4 CLI writes it (linked 4 MB blocks, content checksum),
 * plus the content size, which commons-compress skips and others use. */
static int compress_frame(const char *text, size_t n, unsigned char **data, size_t *len)
{
    LZ4F_preferences_t prefs;
    size_t bound, got;
    unsigned char *out, *shrunk;

    memset(&prefs, 0, sizeof prefs);
    prefs.frameInfo.blockSizeID = LZ4F_max4MB;
    prefs.frameInfo.blockMode = LZ4F_blockLinked;
    prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    prefs.frameInfo.contentSize = n;
    bound = LZ4F_compressFrameBound(n, &prefs);
    out = malloc(bound);
    if (!out)
        return -1;
    got = LZ4F_compressFrame(out, bound, text, n, &prefs);
    if (LZ4F_isError(got)) {
        free(out);
        return -1;
    }
    shrunk = realloc(out, got); /* the bound is ~4x the frame */
    *data = shrunk ? shrunk : out;
    *len = got;
    return 0;
}

int trips_gen_next(struct trips_gen *g, char *name, size_t namelen, unsigned char **data, size_t *len)
{
    unsigned long n = g->remaining < WORKSHOP_TRIPS_PER_OBJECT ? g->remaining : WORKSHOP_TRIPS_PER_OBJECT;
    int w;
    char *p = g->text;
    struct trip t;

    if (n == 0)
        return 0;
    w = snprintf(name, namelen, "part-%05u.json.lz4", g->part);
    if (w < 0 || (size_t)w >= namelen)
        return -1;
    for (unsigned long i = 0; i < n; i++) {
        make_trip(g, &t);
        p = put_trip(p, &t);
    }
    if (compress_frame(g->text, (size_t)(p - g->text), data, len) < 0)
        return -1;
    g->remaining -= n;
    g->part++;
    return 1;
}

void trips_gen_free(struct trips_gen *g)
{
    if (!g)
        return;
    free(g->text);
    free(g);
}
