/**
 * The replicas test's ports, set before helpers.ts reads them: replica k serves on HTTP_PORT+k-1
 * and STATS_PORT+k-1, which must not fall on the suite's other ports (the status page's 18081).
 */
process.env.HTTP_PORT = process.env.HS_TEST_REPLICAS_HTTP_PORT ?? "18180";
process.env.STATS_PORT = process.env.HS_TEST_REPLICAS_STATS_PORT ?? "18280";
export {};
