-- title: Employees hired in 2021 by department, job and quarter
-- Every department and job that hired in 2021, with the hires of each quarter (UTC).
-- chart: stacked-bar
-- category: department
-- values: Q1, Q2, Q3, Q4
SELECT d.department,
       j.job,
       SUM(CASE WHEN EXTRACT(QUARTER FROM e.datetime) = 1 THEN 1 ELSE 0 END) AS "Q1",
       SUM(CASE WHEN EXTRACT(QUARTER FROM e.datetime) = 2 THEN 1 ELSE 0 END) AS "Q2",
       SUM(CASE WHEN EXTRACT(QUARTER FROM e.datetime) = 3 THEN 1 ELSE 0 END) AS "Q3",
       SUM(CASE WHEN EXTRACT(QUARTER FROM e.datetime) = 4 THEN 1 ELSE 0 END) AS "Q4"
FROM hired_employees e
JOIN departments d ON d.id = e.department_id
JOIN jobs j ON j.id = e.job_id
WHERE e.datetime >= TIMESTAMP '2021-01-01 00:00:00'
  AND e.datetime < TIMESTAMP '2022-01-01 00:00:00'
GROUP BY d.department, j.job
ORDER BY d.department, j.job
