-- title: Employees hired in 2021 by department, job and quarter
-- Every department and job that hired in 2021, with the hires of each quarter (UTC).
-- chart: stacked-bar
-- category: department
-- values: Q1, Q2, Q3, Q4
-- Hires are counted per department and job id first, then named: grouping by two
-- integers instead of two names per row is what makes this fast on millions of rows.
WITH hires AS (
    SELECT department_id,
           job_id,
           COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM datetime) = 1) AS q1,
           COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM datetime) = 2) AS q2,
           COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM datetime) = 3) AS q3,
           COUNT(*) FILTER (WHERE EXTRACT(QUARTER FROM datetime) = 4) AS q4
    FROM hired_employees
    WHERE datetime >= TIMESTAMP '2021-01-01 00:00:00'
      AND datetime < TIMESTAMP '2022-01-01 00:00:00'
    GROUP BY department_id, job_id
)
SELECT d.department,
       j.job,
       SUM(h.q1) AS "Q1",
       SUM(h.q2) AS "Q2",
       SUM(h.q3) AS "Q3",
       SUM(h.q4) AS "Q4"
FROM hires h
JOIN departments d ON d.id = h.department_id
JOIN jobs j ON j.id = h.job_id
GROUP BY d.department, j.job
ORDER BY d.department, j.job
