-- title: Departments that hired more than the 2021 mean
-- Departments whose 2021 hires exceed the mean of 2021 hires over all departments
-- (departments without a 2021 hire count as 0 in the mean).
-- chart: bar
-- category: department
-- values: hired
-- reference: mean of all departments = SELECT AVG(hired) FROM (SELECT d.id, COUNT(e.id) AS hired FROM departments d LEFT JOIN hired_employees e ON e.department_id = d.id AND e.datetime >= TIMESTAMP '2021-01-01 00:00:00' AND e.datetime < TIMESTAMP '2022-01-01 00:00:00' GROUP BY d.id) AS per_department
WITH per_department AS (
    SELECT d.id, d.department, COUNT(e.id) AS hired
    FROM departments d
    LEFT JOIN hired_employees e
           ON e.department_id = d.id
          AND e.datetime >= TIMESTAMP '2021-01-01 00:00:00'
          AND e.datetime < TIMESTAMP '2022-01-01 00:00:00'
    GROUP BY d.id, d.department
),
with_mean AS (
    SELECT id, department, hired, AVG(hired) OVER () AS mean
    FROM per_department
)
SELECT id, department, hired
FROM with_mean
WHERE hired > mean
ORDER BY hired DESC, id
